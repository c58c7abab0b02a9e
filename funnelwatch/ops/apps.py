from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """Running the product for years: backups and restores, the version, health checks,
    the status page, Prometheus metrics, request ids in the logs, recording retention."""

    name = "funnelwatch.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("System status"), "ops:status", order=95, roles=("head", "admin"))
