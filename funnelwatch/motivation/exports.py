"""Payout statements as CSV and XLSX: one row per line, with the manager, the month, the
scheme and the status on each; text that would start a formula is escaped."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

from django.utils.translation import gettext as _

from funnelwatch.audit import trail
from funnelwatch.audit.models import AuditEvent
from funnelwatch.motivation.payouts import Payout
from funnelwatch.reports.exports import CONTENT_TYPES, _append_row, safe_text

__all__ = ["CONTENT_TYPES", "audit_export", "to_csv", "to_xlsx"]


def _header() -> list[str]:
    return [
        _("Manager"),
        _("Month"),
        _("Scheme"),
        _("Status"),
        _("Kind"),
        _("Description"),
        _("Amount"),
        _("Source"),
    ]


def _rows(payouts: list[Payout]) -> list[list[object]]:
    rows = []
    for p in payouts:
        status = _("approved") if p.approved else _("accruing")
        common = [p.manager.username, f"{p.month:%Y-%m}", p.scheme_name, status]
        for line in p.lines:
            rows.append([*common, line.kind, line.description, line.amount, " ".join(line.source)])
        rows.append([*common, "total", _("Total"), p.total, ""])
    return rows


def to_csv(payouts: list[Payout]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_text(v) for v in _header()])
    for row in _rows(payouts):
        writer.writerow([safe_text(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(payouts: list[Payout], month: dt.date) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = f"{month:%Y-%m}"
    _append_row(sheet, _header())
    for row in _rows(payouts):
        # Money stays exact: openpyxl writes a Decimal as a number.
        _append_row(sheet, row)
    sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


class _Report:
    _meta = SimpleNamespace(label_lower="motivation.payouts")

    def __init__(self, pk: str) -> None:
        self.pk = pk

    def __str__(self) -> str:
        return _("payouts %(month)s") % {"month": self.pk}


def audit_export(payouts: list[Payout], month: dt.date, fmt: str) -> None:
    trail.record(
        _Report(f"{month:%Y-%m}"),
        AuditEvent.Action.EXPORT,
        {
            "format": fmt,
            "month": f"{month:%Y-%m}",
            "managers": [p.manager.pk for p in payouts],
            "total": str(sum((p.total for p in payouts), 0)),
        },
    )
