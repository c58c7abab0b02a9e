"""Each vendor's export, built from its documented columns: Kommo (Russian headers, cp1251,
``;``, and XLSX with English headers), Bitrix24 (``;`` with a trailing separator, BOM,
quoted), Pipedrive (``Deal - …`` headers, deals and persons in two files), HubSpot
(stage dates in ``Date entered "…"`` columns), and dirty values in each."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from funnelwatch.crm.models import Company, Contact, ContactPhone, Deal, OwnerChange, StageChange
from funnelwatch.imports import engine, readers, values

pytestmark = pytest.mark.django_db


def _run(tmp_path, fmt, files, *extra):
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    out = StringIO()
    call_command("import-deals", *paths, "--format", fmt, "--json", *extra, stdout=out)
    return json.loads(out.getvalue())


def _local(*args):
    return dt.datetime(*args, tzinfo=timezone.get_current_timezone())


KOMMO_RU = (
    "ID;Название сделки;Бюджет ;Ответственный;Дата создания сделки;Дата закрытия;Этап сделки;"
    "Воронка;Полное имя контакта;Компания;Рабочий телефон;Рабочий email;Примечание\n"
    "101;Поставка принтеров;1 250 000,50 руб.;Анна Петрова;01.03.2017 10:15:00;"
    "15.03.2017 12:00:00;Успешно реализовано;Продажи;Иван Сидоров;ООО «Ромашка»;"
    "'8 (913) 123-45-67;ivan@romashka.ru;Звонил дважды\n"
    "102;Картриджи;;Анна Петрова;02.03.2017;не закрыта;Переговоры;Продажи;Иван Сидоров;"
    "Ромашка ООО;+7 913 123 45 67;;\n"
    "103;Сервер;abc;Борис Ким;03.03.2017;;Первичный контакт;Продажи;;;;;\n"
    "104;Ноутбуки;300000;Борис Ким;04.03.2017;10.04.2017;Закрыто и не реализовано;Продажи;"
    "Ольга;;;olga@example.ru;\n"
)


def test_kommo_russian_cp1251_semicolons(tmp_path, settings):
    settings.FUNNELWATCH_PHONE_REGION = "RU"
    report = _run(tmp_path, "kommo", {"leads.csv": KOMMO_RU.encode("cp1251")})
    assert report["rows"] == 4 and report["created"] == 3
    assert report["rejected"] == [{"line": 4, "error": "amount: 'abc' is not an amount"}]
    won = Deal.objects.get(title="Поставка принтеров")
    assert won.status == "won" and won.amount == Decimal("1250000.50")
    assert won.created_at == _local(2017, 3, 1, 10, 15) and won.closed_at == _local(2017, 3, 15, 12)
    open_deal = Deal.objects.get(title="Картриджи")
    # "не закрыта" is no date; the same company spelled two ways; the same contact by phone.
    assert open_deal.status == "open" and open_deal.closed_at is None
    assert open_deal.stage.name == "Переговоры" and open_deal.stage.block == "objections"
    assert open_deal.company == won.company and Company.objects.count() == 1
    assert open_deal.contact == won.contact and Contact.objects.count() == 2
    assert list(ContactPhone.objects.values_list("number", flat=True)) == ["+79131234567"]
    lost = Deal.objects.get(title="Ноутбуки")
    assert lost.status == "lost" and lost.lost_reason.name == engine.NO_REASON
    assert report["owners"] == {"Анна Петрова": "anna.petrova", "Борис Ким": "boris.kim"}
    # created -> stage -> closed
    stages = list(StageChange.objects.filter(deal=won).values_list("to_stage__outcome", "at"))
    assert stages == [("open", won.created_at), ("won", won.closed_at)]


def test_kommo_xlsx_english_headers(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        [
            "ID",
            "Lead title",
            "Sale",
            "Responsible user",
            "Date created",
            "Closing date",
            "Lead status",
            "Pipeline",
            "Contact",
            "Company",
            "Work phone",
            "Work email",
        ]
    )
    sheet.append(
        [
            7,
            "Website",
            1500,
            "Nomin Bat",
            dt.datetime(2024, 5, 2, 9, 30),
            None,
            "Initial contact",
            "Sales",
            "Bold",
            "Tuul LLC",
            "99112233",
            "bold@tuul.mn",
        ]
    )
    sheet.append(
        [
            8,
            "Shop",
            "2,000",
            "Nomin Bat",
            "05/03/2024",
            "05/20/2024",
            "Closed - won",
            "Sales",
            "Bold",
            "TUUL",
            "9911-2233",
            "",
        ]
    )
    buf = io.BytesIO()
    book.save(buf)
    report = _run(tmp_path, "kommo", {"leads.xlsx": buf.getvalue()})
    assert report["created"] == 2 and not report["rejected"]
    shop = Deal.objects.get(title="Shop")
    assert shop.status == "won" and shop.amount == 2000
    assert shop.created_at == _local(2024, 5, 3) and shop.closed_at == _local(2024, 5, 20)
    assert shop.contact == Deal.objects.get(title="Website").contact
    assert ContactPhone.objects.get().number == "+97699112233"


BITRIX = (
    '"ID";"Название сделки";"Стадия сделки";"Сумма";"Валюта";"Ответственный";"Дата создания";'
    '"Дата закрытия";"Компания";"Контакт";"Рабочий телефон";"Рабочий e-mail";"Комментарий";\n'
    '"55";"Окна для школы";"Сделка успешна";"150000.00";"RUB";"Ким Борис";"10.01.2023 11:00:00";'
    '"20.01.2023";"ИП Иванов";"Пётр Иванов";"+7 (913) 000-11-22";"petr@ivanov.ru";"";\n'
    '"56";"Двери";"В работе";"80 000";"RUB";"Ким Борис";"11.01.2023";"";"ИП Иванов";'
    '"Петр Иванов";"";"PETR@ivanov.ru";"";\n'
)
BITRIX_HISTORY = (
    "OWNER_ID;STAGE_ID;CREATED_TIME\n"
    "55;Подготовка документов;12.01.2023 10:00:00\n"
    "55;Счёт на предоплату;15.01.2023 10:00:00\n"
)


def test_bitrix24_utf8_bom_trailing_separator_and_history(tmp_path):
    report = _run(
        tmp_path,
        "bitrix24",
        {
            "deals.csv": b"\xef\xbb\xbf" + BITRIX.encode(),
            "history.csv": BITRIX_HISTORY.encode("cp1251"),
        },
    )
    assert report["created"] == 2 and not report["rejected"], report
    won = Deal.objects.get(title="Окна для школы")
    assert won.currency == "RUB" and won.amount == 150000
    names = list(
        StageChange.objects.filter(deal=won).order_by("at").values_list("to_stage__name", "at")
    )
    assert [n for n, _at in names][1:3] == ["Подготовка документов", "Счёт на предоплату"]
    assert names[1][1] == _local(2023, 1, 12, 10) and names[-1][1] == _local(2023, 1, 20)
    # The same contact by e-mail (however cased).
    assert Deal.objects.get(title="Двери").contact == won.contact
    assert Deal.objects.get(title="Двери").amount == 80000


PIPEDRIVE_DEALS = (
    "Deal - ID,Deal - Title,Deal - Value,Deal - Currency of Value,Deal - Owner,"
    "Deal - Organization,Deal - Contact person,Deal - Stage,Deal - Status,Deal - Deal created,"
    "Deal - Won time,Deal - Lost time,Deal - Lost reason,Deal - Last stage change\n"
    '1,Fleet GPS,"$12,500.00",USD,Sara Lee,Globex Inc.,Tom Ford,Negotiations started,Won,'
    "2022-02-01 09:00:00,2022-03-01 17:00:00,,,2022-02-20 10:00:00\n"
    "2,Trackers,900,USD,Sara Lee,Globex,Tom Ford,Qualified,Lost,2022-02-05,,2022-02-25 12:00:00,"
    "Price too high,\n"
    "3,Old one,100,USD,Sara Lee,,,Qualified,Deleted,2022-02-05,,,,\n"
    "4,Dashcams,4 000,USD,Max Payne,Initech,Ann Bee,Proposal made,Open,3/1/2022,,,,3/10/2022\n"
)
PIPEDRIVE_PERSONS = (
    "Person - Name,Person - Organization,Person - Phone - Work,Person - Email - Work\n"
    "Tom Ford,Globex,+1 415 555 0100,tom@globex.com\n"
    "Ann Bee,Initech,,ann@initech.com\n"
)


def test_pipedrive_deals_and_persons(tmp_path):
    report = _run(
        tmp_path,
        "pipedrive",
        {"persons.csv": PIPEDRIVE_PERSONS.encode(), "deals.csv": PIPEDRIVE_DEALS.encode()},
    )
    assert report["rejected"] == [{"line": 4, "error": "the deal was deleted in the source"}]
    gps = Deal.objects.get(title="Fleet GPS")
    assert gps.status == "won" and gps.amount == 12500 and gps.currency == "USD"
    assert gps.closed_at == _local(2022, 3, 1, 17)
    stages = list(StageChange.objects.filter(deal=gps).values_list("to_stage__name", "at"))
    assert stages[1] == ("Negotiations started", _local(2022, 2, 20, 10))
    lost = Deal.objects.get(title="Trackers")
    assert lost.lost_reason.name == "Price too high" and lost.closed_at == _local(2022, 2, 25, 12)
    assert lost.company == gps.company  # "Globex Inc." and "Globex"
    # Tom Ford from the persons file is the deals' contact, with his phone and e-mail.
    tom = gps.contact
    assert tom.name == "Tom Ford" and tom.phones.get().number == "+14155550100"
    assert Contact.objects.filter(name="Tom Ford").count() == 1
    cams = Deal.objects.get(title="Dashcams")
    assert cams.created_at == _local(2022, 3, 1) and cams.stage_entered_at == _local(2022, 3, 10)


HUBSPOT = (
    '"Record ID","Deal Name","Deal Stage","Amount","Close Date","Create Date","Deal owner",'
    '"Pipeline","Associated Company (Primary)",'
    '"Date entered ""Appointment Scheduled (Sales Pipeline)""",'
    '"Date entered ""Contract Sent (Sales Pipeline)""",'
    '"Date entered ""Closed Won (Sales Pipeline)"""\n'
    '"9001","Annual plan","Closed Won","45362.12","2021-06-30 14:00","2021-06-01 09:00","Jane Roe",'
    '"Sales Pipeline","Umbrella Corp","2021-06-02 10:00","2021-06-20 10:00","2021-06-30 14:00"\n'
    '"9002","Pilot","Appointment Scheduled","","","","Jane Roe","Sales Pipeline","",'
    '"2021-07-02 10:00","",""\n'
)


def test_hubspot_stage_dates_rerun_and_change(tmp_path):
    first = _run(tmp_path, "hubspot", {"deals.csv": HUBSPOT.encode()})
    assert first["created"] == 2
    plan = Deal.objects.get(title="Annual plan")
    stages = list(
        StageChange.objects.filter(deal=plan).order_by("at").values_list("to_stage__name", "at")
    )
    assert stages == [
        ("New lead", _local(2021, 6, 1, 9)),
        ("Appointment Scheduled", _local(2021, 6, 2, 10)),
        ("Contract Sent", _local(2021, 6, 20, 10)),
        ("Won", _local(2021, 6, 30, 14)),
    ]
    pilot = Deal.objects.get(title="Pilot")
    # No creation date: the earliest date of the row, with a warning.
    assert pilot.created_at == _local(2021, 7, 2, 10)
    assert {"line": 3, "warning": "no creation date: the row's earliest date used"} in first[
        "warnings"
    ]
    again = _run(tmp_path, "hubspot", {"deals.csv": HUBSPOT.encode()})
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    changed = HUBSPOT.replace('"45362.12"', '"50000"').replace("Jane Roe", "John Doe")
    third = _run(tmp_path, "hubspot", {"deals.csv": changed.encode()})
    assert (third["created"], third["updated"]) == (0, 2)
    plan.refresh_from_db()
    assert plan.amount == 50000 and plan.owner.get_full_name() == "John Doe"
    assert Deal.objects.count() == 2
    assert OwnerChange.objects.filter(deal=plan).count() == 1


def test_owners_match_rejects_unknown_and_maps_known(tmp_path, world):
    mapping = {
        "columns": {"title": "t", "owner": "o"},
        "owners": "match",
        "owner_map": {"A": "alice"},
    }
    (tmp_path / "m.json").write_text(json.dumps(mapping))
    report = _run(tmp_path, "generic", {"d.csv": b"t\tt2\to\nOne\tx\tA\nTwo\tx\tNobody\n"},
                  "--mapping", str(tmp_path / "m.json"))  # fmt: skip
    assert report["created"] == 1 and report["owners"] == {"A": "alice"}
    assert report["rejected"] == [
        {"line": 3, "error": "owner 'Nobody' is not a user here (owners: match)"}
    ]
    assert Deal.objects.get().owner == world.alice


def test_bad_inputs_are_refused_whole(tmp_path):
    (tmp_path / "m.json").write_text('{"columns": {"title": "nope"}}')
    with pytest.raises(CommandError, match="does not have: nope"):
        _run(tmp_path, "generic", {"d.csv": b"a,b\n1,2\n"}, "--mapping", str(tmp_path / "m.json"))
    with pytest.raises(CommandError, match="needs a mapping"):
        _run(tmp_path, "generic", {"d.csv": b"a,b\n1,2\n"})
    (tmp_path / "m.json").write_text('{"columns": {"colour": "a"}}')
    with pytest.raises(CommandError, match="unknown field 'colour'"):
        _run(tmp_path, "generic", {"d.csv": b"a,b\n1,2\n"}, "--mapping", str(tmp_path / "m.json"))
    with pytest.raises(CommandError, match="empty"):
        _run(tmp_path, "kommo", {"d.csv": b""})
    assert Deal.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234 567,50 ₽", Decimal("1234567.50")),
        ("$45,362.12", Decimal("45362.12")),
        ("1.234.567,5", Decimal("1234567.5")),
        ("12,345", Decimal("12345")),
        ("12,5", Decimal("12.5")),
        ("150000.00", Decimal("150000.00")),
        ("", None),
    ],
)
def test_amounts(text, expected):
    assert values.parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3/1/2017", dt.datetime(2017, 3, 1)),
        ("01.03.2017", dt.datetime(2017, 3, 1)),
        ("2017-03-01", dt.datetime(2017, 3, 1)),
        ("01.03.2017 14:05", dt.datetime(2017, 3, 1, 14, 5)),
        ("2017-03-01T14:05:09", dt.datetime(2017, 3, 1, 14, 5, 9)),
        ("25/1/2017", dt.datetime(2017, 1, 25)),
    ],
)
def test_dates(text, expected):
    tz = timezone.get_current_timezone()
    assert values.parse_when(text, tz) == expected.replace(tzinfo=tz)


def test_encodings_and_separators():
    assert readers.detect_encoding("Сделка".encode("cp1251")) == "cp1251"
    assert readers.detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert readers.read("x.csv", "a\tb\n1\t2\n".encode("utf-16")).rows == [
        (2, {"a": "1", "b": "2"})
    ]
    assert values.company_key("ООО «Ромашка»") == values.company_key("Ромашка ООО")
    assert values.username_for("Батбаяр Дорж") == "batbayar.dorzh"
