"""Chain the events already in the trail, in id order, a batch at a time.

Their time as recorded so far becomes ``occurred_at`` (when the change took effect: the
demo and imports wrote history with its own times); ``at``, the trail's time, becomes the
latest time seen up to each row, since rows were appended in id order and a chained trail
never goes back in time. Then each row gets its link and hash (funnelwatch.audit.chain).
The database refuses updates of audit rows, so that guard is lifted for this migration
alone (it runs as the table's owner) and put back at its end.
"""

from django.db import migrations

BATCH = 2000


def _write(connection, rows):
    """rows: (id, occurred_at, at, prev_hash, hash)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "UPDATE audit_auditevent AS e SET occurred_at = v.o, at = v.a, "
                "prev_hash = v.p, hash = v.h "
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], "
                "%s::varchar[], %s::varchar[]) AS v(id, o, a, p, h) WHERE e.id = v.id",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        cur.executemany(
            "UPDATE audit_auditevent SET occurred_at = %s, at = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [(adapt(o), adapt(a), p, h, pk) for pk, o, a, p, h in rows],
        )


def forwards(apps, schema_editor):
    from funnelwatch.audit import chain, guards

    connection = schema_editor.connection
    AuditEvent = apps.get_model("audit", "AuditEvent")
    if not AuditEvent.objects.exists():
        return
    guards.lift(connection, ("audit_event_no_update",))
    fields = ("id", "at", *chain.CONTENT[2:])
    prev, latest, after = chain.GENESIS, None, 0
    while True:
        batch = list(
            AuditEvent.objects.filter(id__gt=after).order_by("id").values_list(*fields)[:BATCH]
        )
        if not batch:
            break
        rows = []
        for pk, occurred_at, *rest in batch:
            latest = occurred_at if latest is None or occurred_at > latest else latest
            link, prev = prev, chain.digest(prev, (latest, occurred_at, *rest))
            rows.append((pk, occurred_at, latest, link, prev))
        _write(connection, rows)
        after = batch[-1][0]
    guards.install(connection, ("audit_event_no_update",))


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chain_fields")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
