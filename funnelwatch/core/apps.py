from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The shell every app plugs into: layout, periodic jobs, background jobs, the demo."""

    name = "funnelwatch.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Each app registers its periodic jobs in <app>/periodic.py.
        autodiscover_modules("periodic")
