from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "funnelwatch.crm"
    label = "crm"
    verbose_name = _("CRM")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from funnelwatch.audit.models import AuditEvent
        from funnelwatch.core import navigation
        from funnelwatch.crm import rollups
        from funnelwatch.crm.signals import crm_event

        # The CRM tells the metrics kernel which managers' days its changes touched.
        crm_event.connect(rollups.on_crm_event, dispatch_uid="metrics_rollups")
        post_save.connect(
            rollups.on_audit_event, sender=AuditEvent, dispatch_uid="metrics_rollups_audit"
        )

        navigation.add(_("Board"), "crm:board", order=20)
        navigation.add(_("Deals"), "crm:deals", order=21)
        navigation.add(_("Contacts"), "crm:contacts", order=22)
        navigation.add(_("Tasks"), "crm:tasks", order=23)
