from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MotivationConfig(AppConfig):
    name = "funnelwatch.motivation"
    label = "motivation"
    verbose_name = _("Motivation")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(
            _("Payouts"),
            "motivation:statements",
            order=65,
            roles=("head", "admin", "team_lead", "manager"),
        )
