from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "funnelwatch.quality"
    label = "quality"
    verbose_name = _("Call quality")

    def ready(self) -> None:
        from funnelwatch.core import navigation
        from funnelwatch.quality.signals import recording_saved

        post_save.connect(
            recording_saved, sender="telephony.Recording", dispatch_uid="quality.recording_saved"
        )
        reviewers = ("head", "admin", "reviewer", "team_lead")
        navigation.add(_("Call reviews"), "quality:queue", 60, reviewers)
        navigation.add(_("My reviews"), "quality:reviews", 61, ("manager",))
        navigation.add(_("Call library"), "quality:library", 62)
        navigation.add(_("Review scores"), "quality:report", 63, ("head", "admin", "team_lead"))
