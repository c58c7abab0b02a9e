from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "funnelwatch.imports"
    label = "imports"
    verbose_name = _("Imports")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("Import"), "imports:index", order=85, roles=("head", "admin"))
