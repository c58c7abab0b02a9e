"""django-tasks' ``db_worker``, with a heartbeat: while the worker runs, a thread beside it
writes ``ops.Heartbeat`` every FUNNELWATCH_HEARTBEAT_SECONDS, and the status page and
/healthz report the worker stopped when the beats stop. (This app is listed before
``django_tasks_db`` in INSTALLED_APPS so that this command is the one ``funnelwatch
db_worker`` runs.)"""

from __future__ import annotations

from django.conf import settings
from django_tasks_db.management.commands import db_worker

from funnelwatch.ops.heartbeat import Beater


class Worker(db_worker.Worker):
    def run(self) -> None:
        beater = Beater("worker", float(settings.FUNNELWATCH_HEARTBEAT_SECONDS)).start()
        try:
            super().run()
        finally:
            beater.stop()


class Command(db_worker.Command):
    help = db_worker.Command.help + ", writing a heartbeat for the status page"

    def handle(self, *args: object, **options: object) -> None:
        original = db_worker.Worker
        db_worker.Worker = Worker
        try:
            super().handle(*args, **options)
        finally:
            db_worker.Worker = original
