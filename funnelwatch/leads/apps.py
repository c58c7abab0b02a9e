from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "funnelwatch.leads"
    label = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from funnelwatch.core import navigation
        from funnelwatch.leads import hooks

        hooks.connect()
        navigation.add(_("Leads"), "leads:list", order=24)
