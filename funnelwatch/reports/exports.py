"""The key-numbers table as CSV and XLSX (one header row, one row per manager/team/total)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from types import SimpleNamespace

from django.utils.translation import gettext as _

from funnelwatch.audit import trail
from funnelwatch.audit.models import AuditEvent
from funnelwatch.reports.queries import KeyNumbers

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


# A text cell starting with one of these is read as a formula by spreadsheet programs
# (``=HYPERLINK(...)``, ``@SUM(...)``, ``+cmd|...``, DDE); names come from users.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> object:
    """Text that would start a formula gets a leading ``'`` (OWASP's advice), so it stays
    text in any spreadsheet; numbers, negative ones too, are left as numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _header(table: KeyNumbers) -> list[str]:
    return [_("Manager"), _("Team"), *[str(m.label) for m in table.metrics]]


def _lines(table: KeyNumbers) -> list[list[object]]:
    out = []
    for row in table.rows:
        if row.kind == "manager":
            who, team = row.user.username, row.team.name if row.team else ""
        elif row.kind == "team":
            who, team = _("Team total"), row.label
        elif row.label:  # everything a team lead or a manager may see
            who, team = _("Total"), row.label
        else:
            who, team = _("Department total"), ""
        out.append([who, team, *[row.cells[m.key].value for m in table.metrics]])
    return out


def to_csv(table: KeyNumbers) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_text(v) for v in _header(table)])
    for line in _lines(table):
        writer.writerow(["" if v is None else safe_text(v) for v in line])
    # A byte-order mark lets spreadsheet programs read the file as UTF-8.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: KeyNumbers) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = f"{table.period.start:%Y-%m-%d}"
    _append_row(sheet, _header(table))
    for line in _lines(table):
        _append_row(sheet, [float(v) if isinstance(v, Decimal) else v for v in line])
    sheet.freeze_panes = "C2"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _append_row(sheet, values: list[object]) -> None:
    """One row; every string is a text cell, never a formula (openpyxl would store a string
    starting with ``=`` as one)."""
    sheet.append([safe_text(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


class _Report:
    """The exported table as the audit trail names it (it is not a stored record)."""

    _meta = SimpleNamespace(label_lower="metrics.key_numbers")

    def __init__(self, pk: str) -> None:
        self.pk = pk

    def __str__(self) -> str:
        return _("key numbers %(period)s") % {"period": self.pk}


def audit_export(table: KeyNumbers, fmt: str, by: str) -> None:
    """Leave a trace of who took the numbers out of the system."""
    report = _Report(f"{table.period.start}..{table.period.end}")
    trail.record(
        report,
        AuditEvent.Action.EXPORT,
        {
            "format": fmt,
            "by": by,
            "from": table.period.start.isoformat(),
            "to": table.period.end.isoformat(),
            "metrics": [m.key for m in table.metrics],
            "rows": len(table.rows),
        },
    )
