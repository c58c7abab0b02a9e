from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """The pages, exports and API that read the metrics kernel: key numbers, funnel, sales
    and the manager page. The kernel (funnelwatch.metrics) knows nothing of them."""

    name = "funnelwatch.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(
            _("Key numbers"),
            "metrics:key_numbers",
            order=10,
            roles=("head", "team_lead", "manager", "admin", "reviewer"),
        )
        navigation.add(
            _("Funnel"),
            "metrics:funnel",
            order=11,
            roles=("head", "team_lead", "admin", "reviewer"),
        )
        navigation.add(
            _("Sales"), "metrics:sales", order=12, roles=("head", "team_lead", "admin", "reviewer")
        )
