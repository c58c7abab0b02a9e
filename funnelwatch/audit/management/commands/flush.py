"""Django's ``flush``, which empties every table: the audit table refuses deletes, so the
guards are lifted for the flush and put back after it, in one transaction. On PostgreSQL
only the table's owner may do that; the application's role cannot (README, Production).
Tests that commit (``transactional_db``) and ``funnelwatch demo --reset`` flush."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as Flush
from django.db import DatabaseError, connections, transaction

from funnelwatch.audit import guards


class Command(Flush):
    help = Flush.help + " This erases the audit trail too."

    def handle(self, **options: object) -> None:
        using = options["database"]
        connection = connections[using]
        with transaction.atomic(using=using):
            chained = guards.table_is_chained(connection)
            if chained:
                try:
                    guards.lift(connection)
                except DatabaseError as exc:
                    raise CommandError(
                        "flush would erase the audit trail, which only the owner of its "
                        f"table may do ({exc})"
                    ) from None
            super().handle(**options)
            if chained:
                guards.install(connection)
