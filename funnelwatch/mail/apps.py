from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "funnelwatch.mail"
    label = "mail"
    verbose_name = _("E-mail")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("Mail"), "mail:mailboxes", order=40)
