"""Small helpers metric definitions share: period bounds, local days (in Python and in
SQL), points summed by the database. (The owner of a deal at a moment is the CRM's:
``funnelwatch.crm.rollups.owner_at``.)"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db.models import (
    BigIntegerField,
    Count,
    DateField,
    Expression,
    F,
    Func,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, Round, TruncDate
from django.utils import timezone

from funnelwatch.lib.dates import Period, period_bounds
from funnelwatch.metrics.registry import Point

FOUR = Decimal("0.0001")


def company_tz() -> ZoneInfo:
    return timezone.get_current_timezone()


def bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The aware moments where the period's first day starts and its end day starts."""
    return period_bounds(period, company_tz())


def local_day(moment: dt.datetime, tz: ZoneInfo | None = None) -> dt.date:
    return moment.astimezone(tz or company_tz()).date()


def today() -> dt.date:
    return local_day(timezone.now())


def days_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    """Days as a Decimal rounded to 4 places, so sums of stored values stay exact."""
    return days_of(elapsed_us(start, end))


def elapsed_us(start: dt.datetime, end: dt.datetime) -> int:
    return (end - start) // dt.timedelta(microseconds=1)


def days_of(microseconds: int) -> Decimal:
    """:func:`days_between` from the microseconds between the moments (as
    :class:`ElapsedMicroseconds` has the database count them)."""
    # The float is timedelta.total_seconds() exactly: whole microseconds / 10**6.
    return (Decimal(microseconds / 10**6) / Decimal(86400)).quantize(FOUR)


# --- local days in SQL ----------------------------------------------------------------
#
# Rebuilding rollups must not bring every raw row into Python just to learn its local
# day: the database groups rows by (manager, local day) instead. PostgreSQL converts to
# the company zone natively (``TruncDate`` with ``tzinfo``). Django's SQLite backend
# would call a Python function for every row, so there the local day is the UTC moment
# shifted by the zone's offset, which is constant between two transitions of the zone:
# over a period, a CASE over a few spans of constant offset, each a native ``date(t,
# '+N seconds')``, with the offsets and transitions taken from zoneinfo.

_SAMPLE_STEP = dt.timedelta(hours=3)


def _offset(moment: dt.datetime, tz: dt.tzinfo) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=256)
def offset_spans(
    since: dt.datetime, until: dt.datetime, tz: dt.tzinfo
) -> tuple[tuple[dt.datetime | None, int], ...]:
    """The zone's UTC offsets (in seconds) over ``[since, until)``: ``((None, first),
    (moment, offset from that moment on), ...)``.

    Transitions are found by sampling every few hours and bisecting to the second
    (zone transitions fall on whole seconds)."""

    def at(ts: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, dt.UTC)

    first, last = math.floor(since.timestamp()), math.ceil(until.timestamp())
    step = int(_SAMPLE_STEP.total_seconds())
    spans: list[tuple[dt.datetime | None, int]] = [(None, _offset(at(first), tz))]
    prev = first
    while prev < last:
        cur = min(prev + step, last)
        if _offset(at(cur), tz) != spans[-1][1]:
            lo, hi = prev, cur  # the offset changes in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(at(mid), tz) == spans[-1][1]:
                    lo = mid
                else:
                    hi = mid
            spans.append((at(hi), _offset(at(hi), tz)))
        prev = cur
    return tuple(spans)


class ElapsedMicroseconds(Func):
    """Whole microseconds from one moment to a later one, counted exactly by the database
    (no rows' moments need to come back to Python to be subtracted)."""

    output_field = BigIntegerField()

    def __init__(self, start: str, end: str) -> None:
        super().__init__(F(start), F(end))

    def _operands(self, compiler):
        (a, pa), (b, pb) = (compiler.compile(e) for e in self.source_expressions)
        return a, pa, b, pb

    def as_sqlite(self, compiler, connection, **extra):
        # Moments are stored as text "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC: whole seconds
        # from strftime on the text without its fraction (SQLite would round a fraction to
        # the millisecond), microseconds from the digits after the point (none: 0).
        a, pa, b, pb = self._operands(compiler)

        def us(x: str) -> str:
            return (
                f"(CAST(strftime('%%s', substr({x}, 1, 19)) AS INTEGER) * 1000000"
                f" + CAST(substr({x}, 21, 6) AS INTEGER))"
            )

        return f"({us(b)} - {us(a)})", [*pb, *pb, *pa, *pa]

    def as_sql(self, compiler, connection, **extra):
        # PostgreSQL and other SQL databases. Exact: EXTRACT gives a numeric (a double
        # before PostgreSQL 14, still exact to the microsecond once the cast rounds it).
        a, pa, b, pb = self._operands(compiler)
        return f"CAST(EXTRACT(EPOCH FROM ({b} - {a})) * 1000000 AS BIGINT)", [*pb, *pa]


class LocalDay(Func):
    """The company-local date of the moment ``field``, for rows within ``period`` (the
    caller filters them to it: on SQLite the offsets are those of the period)."""

    output_field = DateField()

    def __init__(self, field: str, period: Period, tz: ZoneInfo | None = None) -> None:
        super().__init__(F(field))
        self.tz = tz or company_tz()
        self.since, self.until = period_bounds(period, self.tz)

    def as_sql(self, compiler, connection, **extra):
        return compiler.compile(TruncDate(self.source_expressions[0], tzinfo=self.tz))

    def as_sqlite(self, compiler, connection, **extra):
        moment, params = compiler.compile(self.source_expressions[0])

        def shifted(offset: int) -> str:
            # Whole seconds only: SQLite reads a fraction to the millisecond, rounding,
            # so 23:59:59.9996 would fall on the next day. Offsets are whole seconds, so
            # the truncated moment always has the same local date.
            return f"date(substr({moment}, 1, 19), '{offset:+d} seconds')"

        spans = offset_spans(self.since, self.until, self.tz)
        if len(spans) == 1:
            return shifted(spans[0][1]), list(params)
        sql, out = "CASE", []
        for (_from, offset), (switch, _next) in zip(spans, spans[1:], strict=False):
            sql += f" WHEN {moment} < %s THEN {shifted(offset)}"
            out += [*params, connection.ops.adapt_datetimefield_value(switch), *params]
        sql += f" ELSE {shifted(spans[-1][1])} END"
        return sql, [*out, *params]


def day_points(
    qs: QuerySet,
    who: str,
    when: str,
    period: Period,
    value: Expression | None = None,
    weight: Expression | None = None,
    scale: int | None = None,
    weight_scale: int | None = None,
) -> list[Point]:
    """One point per (manager ``who``, local day of ``when``), summed by the database.

    ``value``/``weight`` are summed per group (default: the number of rows, as one point
    per row with the default weight would give). With ``scale`` (``weight_scale``), the
    summed value (weight) is a whole number of 1/scale units (cents, hundredths of a
    minute) and comes back as an exact Decimal.
    """
    rows = (
        qs.annotate(_local_day=LocalDay(when, period))
        .order_by()
        .values(who, "_local_day")
        .annotate(
            _v=Count("pk") if value is None else Sum(value),
            _w=Count("pk") if weight is None else Sum(weight),
        )
        .values_list(who, "_local_day", "_v", "_w")
    )
    out = []
    for manager, day, v, w in rows:
        v, w = v or 0, w or 0
        if scale is not None:
            v = Decimal(int(v)) / scale
        if weight_scale is not None:
            w = Decimal(int(w)) / weight_scale
        out.append(Point(manager, day, v, w))
    return out


def cents(expression: Expression | F | str, places: int = 2) -> Cast:
    """A decimal (money, minutes) as a whole number of its smallest units, so sums are
    exact on SQLite too (it keeps decimals as floats)."""
    field = F(expression) if isinstance(expression, str) else expression
    return Cast(Round(field * (10**places)), BigIntegerField())
