"""Background work of the imports: running an import the page queued."""

from __future__ import annotations

import logging

from django_tasks import task

logger = logging.getLogger("funnelwatch.imports")


@task()
def run_import(batch_id: int) -> str:
    from funnelwatch.imports import services

    return services.run_queued(batch_id)
