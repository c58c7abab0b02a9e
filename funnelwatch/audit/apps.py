from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _install_guards(using: str = "default", **kwargs: object) -> None:
    """After every migrate (and flush): the database refuses changes to audit rows again,
    also when a migration rebuilt the table (SQLite drops a rebuilt table's triggers)."""
    from funnelwatch.audit import guards

    connection = connections[using]
    if guards.table_is_chained(connection):
        guards.install(connection)


class AuditConfig(AppConfig):
    name = "funnelwatch.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from funnelwatch.audit import trail

        trail.connect_signals()
        post_migrate.connect(_install_guards, sender=self, dispatch_uid="audit_guards")
