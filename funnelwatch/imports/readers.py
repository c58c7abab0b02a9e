"""Reading an exported file into rows: encoding and separator detection for CSV, XLSX
through openpyxl (read-only), Bitrix24's "Excel" export (an HTML table)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.utils.translation import gettext as _


class UnreadableFile(ValueError):
    """The file is not a table we can read; the message says why."""


@dataclass
class Table:
    name: str
    headers: list[str]
    # (line number in the file, the row's cells by header)
    rows: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    kind: str = "csv"  # csv, xlsx, html
    encoding: str = ""
    delimiter: str = ""


def clean_header(text: object) -> str:
    return re.sub(r"\s+", " ", str(text or "").replace("\ufeff", "")).strip()


def detect_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with its BOM, otherwise cp1251 (the
    Windows Cyrillic code page older Russian-language exports use)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of a sample is still UTF-8.
        if exc.start < len(data) - 3:
            return "cp1251"
    return "utf-8"


def detect_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,\t|").delimiter
    except csv.Error:
        first = text.split("\n", 1)[0]
        counts = {d: first.count(d) for d in (";", ",", "\t", "|")}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def read(name: str, data: bytes) -> Table:
    if not data.strip():
        raise UnreadableFile(_("%(file)s: the file is empty") % {"file": name})
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(name, data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            _("%(file)s: an old binary Excel file (.xls); save it as .xlsx or CSV and upload again")
            % {"file": name}
        )
    encoding = detect_encoding(data)
    text = data.decode(encoding, errors="replace")
    if (
        re.match(r"\s*<(!doctype|html|meta|table|\?xml)", text[:500], re.I)
        and "<table" in text.lower()
    ):
        return _read_html(name, text, encoding)
    return _read_csv(name, text, encoding)


def _read_csv(name: str, text: str, encoding: str) -> Table:
    text = text.lstrip("\ufeff")
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = [clean_header(h) for h in next(reader)]
    except StopIteration:
        raise UnreadableFile(_("%(file)s: the file is empty") % {"file": name}) from None
    except csv.Error as exc:
        raise UnreadableFile(
            _("%(file)s: line %(line)s: %(error)s") % {"file": name, "line": 1, "error": exc}
        ) from None
    table = Table(name, headers, kind="csv", encoding=encoding, delimiter=delimiter)
    line = reader.line_num
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            table.rows.append((start, _row(headers, cells)))
    except csv.Error as exc:
        raise UnreadableFile(
            _("%(file)s: line %(line)s: %(error)s")
            % {"file": name, "line": reader.line_num, "error": exc}
        ) from None
    _check_headers(table)
    return table


def _row(headers: list[str], cells: list) -> dict[str, object]:
    row: dict[str, object] = {}
    for header, cell in zip(headers, cells, strict=False):
        if header and header not in row:
            row[header] = cell.strip() if isinstance(cell, str) else cell
    return row


def _check_headers(table: Table) -> None:
    if not any(table.headers):
        raise UnreadableFile(
            _("%(file)s: the first line has no column names") % {"file": table.name}
        )


def _read_xlsx(name: str, data: bytes) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise UnreadableFile(
            _("%(file)s: not a readable XLSX file (%(error)s)") % {"file": name, "error": exc}
        ) from None
    try:
        sheet = book.worksheets[0]
        rows: Iterator[tuple] = sheet.iter_rows(values_only=True)
        headers = [clean_header(h) for h in next(rows, ())]
        table = Table(name, headers, kind="xlsx")
        for number, cells in enumerate(rows, start=2):
            if not any(c not in (None, "") for c in cells):
                continue
            table.rows.append((number, _row(headers, list(cells))))
    finally:
        book.close()
    _check_headers(table)
    return table


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _read_html(name: str, text: str, encoding: str) -> Table:
    parser = _Cells()
    parser.feed(text)
    rows = [r for r in parser.rows if r]
    if not rows:
        raise UnreadableFile(_("%(file)s: the table is empty") % {"file": name})
    headers = [clean_header(h) for h in rows[0]]
    table = Table(name, headers, kind="html", encoding=encoding)
    for number, cells in enumerate(rows[1:], start=2):
        if any(c.strip() for c in cells):
            table.rows.append((number, _row(headers, cells)))
    _check_headers(table)
    return table
