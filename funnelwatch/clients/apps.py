from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClientsConfig(AppConfig):
    name = "funnelwatch.clients"
    label = "clients"
    verbose_name = _("Client base")

    def ready(self) -> None:
        from funnelwatch.clients import periodic  # noqa: F401  (registers the nightly job)
        from funnelwatch.core import navigation

        navigation.add(_("Client base"), "clients:base", 55)
        navigation.add(_("Retention"), "clients:retention", 56)
        navigation.add(_("Lost reasons"), "clients:reasons", 57)
