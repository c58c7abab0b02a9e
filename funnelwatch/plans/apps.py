from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "funnelwatch.plans"
    label = "plans"
    verbose_name = _("Plans")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from funnelwatch.core import navigation
        from funnelwatch.plans.models import Plan
        from funnelwatch.plans.rollups import plan_changed

        # Every write of a plan (the page, the admin, the demo) tells the metrics.
        post_save.connect(plan_changed, sender=Plan, dispatch_uid="plans_metrics")
        post_delete.connect(plan_changed, sender=Plan, dispatch_uid="plans_metrics_delete")

        navigation.add(_("Plans"), "plans:list", order=60)
