from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "funnelwatch.plans"
    label = "plans"
    verbose_name = _("Plans")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("Plans"), "plans:list", order=60)
