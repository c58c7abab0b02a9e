"""The metrics part of ``funnelwatch demo``: build the rollups for the demo history."""

from __future__ import annotations

import datetime as dt
import time

from django.utils.translation import gettext as _

from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine
from funnelwatch.metrics.common import local_day


def generate(ctx) -> None:
    """Rebuild every rollup from the first demo day to tomorrow (idempotent).

    The CRM part writes through the services; its events refresh rollups once, when its
    transaction commits. Rebuilding here as well also covers records other parts wrote
    in bulk, and costs a few seconds for the default department.
    """
    from funnelwatch.metrics.management.commands.rollups import data_period

    started = time.monotonic()
    # From the first recorded event: the CRM part backdates some leads a few days before
    # the demo's start, and rollups left unbuilt for them fail ``rollups verify``.
    first = min(data_period().start, local_day(ctx.start) - dt.timedelta(days=1))
    period = Period(first, local_day(ctx.now) + dt.timedelta(days=1))
    day = period.start
    rows = 0
    while day < period.end:
        chunk = Period(day, min(period.end, day + dt.timedelta(days=31)))
        rows += engine.rebuild(chunk)
        day = chunk.end
    ctx.notes.append(
        _("Metrics: %(rows)d rollup rows for %(days)d days built in %(s).1f s.")
        % {"rows": rows, "days": period.days, "s": time.monotonic() - started}
    )
