from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "funnelwatch.alerts"
    label = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        leaders = ("head", "team_lead", "admin")
        navigation.add(_("Morning meeting"), "alerts:morning", 15, leaders)
        navigation.add(_("Alerts"), "alerts:list", 60)
        navigation.add(_("Lost deals"), "alerts:lost", 62, leaders)
        navigation.add(_("Forecast"), "alerts:forecast", 64)
        navigation.add(_("Digests"), "alerts:digests", 66)
        navigation.add(_("Alert thresholds"), "alerts:thresholds", 90, ("head", "admin"))
