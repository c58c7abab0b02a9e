from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SkillsConfig(AppConfig):
    name = "funnelwatch.skills"
    label = "skills"
    verbose_name = _("Skills")

    def ready(self) -> None:
        from funnelwatch.core import navigation

        navigation.add(_("Skills"), "skills:index", order=66)
