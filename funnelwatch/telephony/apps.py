from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelephonyConfig(AppConfig):
    name = "funnelwatch.telephony"
    label = "telephony"
    verbose_name = _("Telephony")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("Calls"), "telephony:calls", order=30)
        navigation.add(_("Missed calls"), "telephony:missed", order=31)
        navigation.add(
            _("Call routing"), "telephony:routing", order=80, roles=("head", "admin", "team_lead")
        )
        navigation.add(
            _("Telephony settings"), "telephony:integrations", order=81, roles=("head", "admin")
        )
