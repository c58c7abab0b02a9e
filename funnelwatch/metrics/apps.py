from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "funnelwatch.metrics"
    label = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from funnelwatch.audit.models import AuditEvent
        from funnelwatch.core import navigation
        from funnelwatch.crm.signals import crm_event
        from funnelwatch.metrics import refresh

        # Each app defines its metrics in <app>/metrics.py.
        autodiscover_modules("metrics")
        crm_event.connect(refresh.on_crm_event, dispatch_uid="metrics_rollups")
        post_save.connect(
            refresh.on_audit_event, sender=AuditEvent, dispatch_uid="metrics_rollups_audit"
        )
        navigation.add(
            _("Key numbers"),
            "metrics:key_numbers",
            order=10,
            roles=("head", "team_lead", "manager", "admin", "reviewer"),
        )
        navigation.add(
            _("Funnel"),
            "metrics:funnel",
            order=11,
            roles=("head", "team_lead", "admin", "reviewer"),
        )
        navigation.add(
            _("Sales"), "metrics:sales", order=12, roles=("head", "team_lead", "admin", "reviewer")
        )
