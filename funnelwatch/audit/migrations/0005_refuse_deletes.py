"""Every event has its times now; and the database refuses deletes of audit rows as it
refuses updates: BEFORE DELETE triggers, BEFORE TRUNCATE on PostgreSQL, and on SQLite a
BEFORE INSERT trigger against ``INSERT OR REPLACE`` (funnelwatch.audit.guards). On
PostgreSQL also ``audit_chain_head()``, which serialises appends (funnelwatch.audit.chain).
The guards are installed last: on SQLite the field changes above rebuild the table, which
drops its triggers."""

from django.conf import settings
from django.db import migrations, models


def install(apps, schema_editor):
    from funnelwatch.audit import guards

    guards.install(schema_editor.connection)


def remove(apps, schema_editor):
    from funnelwatch.audit import chain, guards

    connection = schema_editor.connection
    guards.lift(connection, ("audit_event_no_delete", "audit_event_no_truncate",
                             "audit_event_no_replace"))
    if connection.vendor == "postgresql":
        schema_editor.execute(chain.HEAD_FUNCTION_DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_chain_existing_rows'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_audit_actor_i_6c9c9e_idx',
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('create', 'created'), ('update', 'updated'), ('archive', 'archived'), ('unarchive', 'restored from archive'), ('view', 'viewed'), ('play', 'played'), ('download', 'downloaded'), ('export', 'exported'), ('delete', 'deleted')], max_length=20, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='at',
            field=models.DateTimeField(db_index=True, editable=False, verbose_name='recorded at'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='occurred_at',
            field=models.DateTimeField(db_index=True, verbose_name='when'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor', 'occurred_at'], name='audit_audit_actor_i_023a4b_idx'),
        ),
        migrations.RunPython(install, remove),
    ]
