from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClientsConfig(AppConfig):
    name = "funnelwatch.clients"
    label = "clients"
    verbose_name = _("Client base")

    def ready(self) -> None:
        from funnelwatch.clients import periodic  # noqa: F401  (registers the nightly job)
        from funnelwatch.clients.segments import Thresholds

        Thresholds.from_settings()  # a bad threshold stops the start, naming the variable
        from funnelwatch.core import navigation

        # One item: the page links to the companies, retention and lost reasons beside it.
        navigation.add(_("Client base"), "clients:base", 55)
