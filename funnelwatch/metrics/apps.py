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
        from funnelwatch.crm.signals import crm_event
        from funnelwatch.metrics import refresh

        # Each app defines its metrics in <app>/metrics.py.
        autodiscover_modules("metrics")
        crm_event.connect(refresh.on_crm_event, dispatch_uid="metrics_rollups")
        post_save.connect(
            refresh.on_audit_event, sender=AuditEvent, dispatch_uid="metrics_rollups_audit"
        )
