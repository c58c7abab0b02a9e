from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "funnelwatch.crm"
    label = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("Board"), "crm:board", order=20)
        navigation.add(_("Deals"), "crm:deals", order=21)
        navigation.add(_("Contacts"), "crm:contacts", order=22)
        navigation.add(_("Tasks"), "crm:tasks", order=23)
