from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from funnelwatch.audit.models import AuditEvent
from funnelwatch.telephony import importer
from funnelwatch.telephony.models import Call, CallLeg

SAMPLES = Path(__file__).parent / "samples"


def _import(tmp_path, text: str | bytes, fmt: str = "asterisk-csv"):
    path = tmp_path / "Master.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return importer.import_file(path, fmt)


@pytest.mark.django_db
def test_asterisk_custom_sample(world):
    report = importer.import_file(SAMPLES / "asterisk_cdr_custom_master.csv", "asterisk-custom")
    assert report.rows_read == 14
    assert report.calls_created == 14
    assert report.rejected == []
    outcomes = sorted(Call.objects.values_list("outcome", flat=True))
    assert outcomes.count("answered") == 11
    assert outcomes.count("no_answer") == 3
    call = Call.objects.get(external_id="1690325492.2")
    assert call.direction == "internal"
    assert call.talk_seconds == 13 and call.duration_s == 31
    assert call.legs.count() == 1
    # ingestion is audited as the integration
    ev = AuditEvent.objects.filter(object_type="telephony.call", object_id=str(call.pk)).get()
    assert ev.source == "integration"
    # the same file again stores nothing new
    again = importer.import_file(SAMPLES / "asterisk_cdr_custom_master.csv", "asterisk-custom")
    assert again.calls_created == 0 and again.duplicates_skipped == 14
    assert Call.objects.count() == 14


@pytest.mark.django_db
def test_freeswitch_sample_stores_triple_uuid_once(world):
    report = importer.import_file(SAMPLES / "freeswitch_cdr_csv_master.csv", "freeswitch-csv")
    assert report.rows_read == 10
    assert report.calls_created == 8
    assert report.duplicates_skipped == 2
    assert report.rejected == []
    call = Call.objects.get(external_id="7adced1a-4c7c-11ea-b08c-2bfc2a06d67d")
    assert call.outcome == "answered" and call.talk_seconds == 20
    assert CallLeg.objects.filter(call=call).count() == 1
    assert (
        Call.objects.get(external_id="f1542038-4c15-11ea-97ca-9dd79410affb").outcome == "no_answer"
    )
    assert Call.objects.filter(outcome="answered").count() == 7


ROW16 = (
    '"","{src}","{dst}","from-internal","""Bob"" <{src}>","{ch}","{dch}","Dial","x",'
    '"2026-03-02 10:00:00","{ans}","2026-03-02 10:01:00",60,{bill},"{disp}","DOCUMENTATION"'
)


def test_column_counts_and_bad_rows(world, tmp_path):
    good = ROW16.format(
        src="101",
        dst="89161234567",
        ch="PJSIP/101-1",
        dch="PJSIP/trunk-2",
        ans="2026-03-02 10:00:10",
        bill=50,
        disp="ANSWERED",
    )
    wrong_cols = '"a","b","c"'
    unknown = ROW16.format(
        src="101",
        dst="99112233",
        ch="PJSIP/101-1",
        dch="PJSIP/trunk-2",
        ans="",
        bill=0,
        disp="MAYBE",
    )
    backwards = good.replace('"2026-03-02 10:01:00"', '"2026-03-02 09:00:00"')
    malformed = '"unterminated,"x'
    text = "\n".join([good, wrong_cols, unknown, backwards, malformed, good]) + "\n"
    report = _import(tmp_path, text)
    assert report.rows_read == 6
    assert report.calls_created == 1
    assert report.duplicates_skipped == 1
    reasons = {r.line: r.reason for r in report.rejected}
    assert set(reasons) == {2, 3, 4, 5}
    assert "columns" in reasons[2] and "got 3" in reasons[2]
    assert "disposition" in reasons[3] and "MAYBE" in reasons[3]
    assert reasons[4].startswith("end:")
    call = Call.objects.get()
    assert call.direction == "out" and call.manager == world.alice
    assert call.talk_seconds == 50


def test_layouts_17_18_19_21_group_by_linkedid(world, tmp_path):
    base = ROW16.format(
        src="101",
        dst="99112233",
        ch="PJSIP/101-1",
        dch="PJSIP/trunk-2",
        ans="2026-03-02 10:00:10",
        bill=50,
        disp="ANSWERED",
    )
    lines = [
        base + ',"u17"',
        base.replace("10:00:00", "10:02:00")
        .replace("10:01:00", "10:03:00")
        .replace("10:00:10", "10:02:10")
        + ',"u18","field"',
        # 19: peeraccount, linkedid, sequence — two legs of one call
        base.replace("10:00:00", "11:00:00")
        .replace("10:01:00", "11:01:00")
        .replace("10:00:10", "11:00:10")
        + ',"","L1",1',
        base.replace("10:00:00", "11:00:00")
        .replace("10:01:00", "11:01:00")
        .replace("10:00:10", "11:00:10")
        .replace('"DOCUMENTATION"', '"BILLING"')
        + ',"","L1",2',
        base.replace("10:00:00", "12:00:00")
        .replace("10:01:00", "12:01:00")
        .replace("10:00:10", "12:00:10")
        + ',"u21","","","L2",1',
    ]
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.rejected == []
    assert report.calls_created == 4
    assert Call.objects.get(external_id="L1").legs.count() == 2


def test_queue_call_answered_only_by_real_endpoint(world, tmp_path):
    """A ring group: Local/ plumbing legs and an IVR answer do not make a call answered."""
    lines = [
        # IVR answered the trunk channel, no person
        '"","99112233","700","from-trunk","x","PJSIP/trunk-1","","BackGround","menu",'
        '"2026-03-02 10:00:00","2026-03-02 10:00:01","2026-03-02 10:00:40",40,39,"ANSWERED",'
        '"DOCUMENTATION","t1","","","T1",1',
        '"","99112233","101","from-queue","x","Local/101@from-queue-1;2","PJSIP/101-5","Dial","",'
        '"2026-03-02 10:00:05","","2026-03-02 10:00:40",35,0,"NO ANSWER","DOCUMENTATION","t2",'
        '"","","T1",2',
        # second call: Local leg answered by plumbing only, then real phone answered
        '"","99112244","700","from-trunk","x","PJSIP/trunk-2","Local/102@q-1;1","Queue","",'
        '"2026-03-02 11:00:00","2026-03-02 11:00:02","2026-03-02 11:02:00",120,118,"ANSWERED",'
        '"DOCUMENTATION","t3","","","T2",1',
        '"","99112244","102","from-queue","x","Local/102@q-1;2","PJSIP/102-7","Dial","",'
        '"2026-03-02 11:00:02","2026-03-02 11:00:10","2026-03-02 11:02:00",118,110,"ANSWERED",'
        '"DOCUMENTATION","t4","","","T2",2',
    ]
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.rejected == [], report.rejected
    missed = Call.objects.get(external_id="T1")
    assert missed.outcome == "no_answer" and missed.direction == "in"
    taken = Call.objects.get(external_id="T2")
    assert taken.outcome == "answered" and taken.talk_seconds == 110
    assert taken.manager == world.bob
    assert taken.from_number == "+97699112244"


def test_non_utf8_bytes_do_not_stop_import(world, tmp_path):
    row = ROW16.format(
        src="101",
        dst="99112233",
        ch="PJSIP/101-1",
        dch="PJSIP/trunk-2",
        ans="2026-03-02 10:00:10",
        bill=50,
        disp="ANSWERED",
    )
    raw = row.encode().replace(b'""Bob""', '""Иван""'.encode("cp1251")) + b"\n"
    raw += row.replace("10:00:00", "09:55:00").encode().replace(b"Bob", b"\xff\xfe") + b"\n"
    report = _import(tmp_path, raw)
    assert report.rejected == [] and report.calls_created == 2
    leg = CallLeg.objects.order_by("pk").first()
    assert "Иван" in leg.raw[4]


def test_command_json_summary(world, capsys):
    out = io.StringIO()
    call_command(
        "import-calls",
        str(SAMPLES / "freeswitch_cdr_csv_master.csv"),
        "--format",
        "freeswitch-csv",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["rows_read"] == 10 and data["calls_created"] == 8
    assert data["duplicates_skipped"] == 2 and data["rows_rejected"] == 0
    out = io.StringIO()
    call_command(
        "calls", "--from", "2020-02-10", "--to", "2020-02-11", "--format", "json", stdout=out
    )
    listed = json.loads(out.getvalue())
    assert len(listed) == 8
    assert set(listed[0]) >= {
        "id",
        "provider",
        "external_id",
        "direction",
        "from",
        "to",
        "started_at",
        "answered",
        "talk_seconds",
        "manager",
        "contact",
        "deal",
        "legs",
    }
    assert listed[0]["legs"] == 1


def test_follow_reads_appended_lines_and_partial_lines(world, tmp_path):
    path = tmp_path / "Master.csv"
    rows = [
        ROW16.format(
            src="101",
            dst="99112233",
            ch="PJSIP/101-1",
            dch="PJSIP/trunk-2",
            ans=f"2026-03-02 10:00:{10 + i}",
            bill=40,
            disp="ANSWERED",
        ).replace("10:00:00", f"10:00:0{i}")
        + f',"u{i}"'
        for i in range(3)
    ]
    path.write_text(rows[0] + "\n")
    steps = iter(
        [
            lambda: path.open("a").write(rows[1] + "\n" + rows[2][:30]),  # a half-written line
            lambda: path.open("a").write(rows[2][30:] + "\n"),
        ]
    )
    seen = []

    def should_stop() -> bool:
        step = next(steps, None)
        if step is None:
            return True
        step()
        return False

    report = importer.follow(
        path,
        "asterisk-csv",
        poll_seconds=0,
        should_stop=should_stop,
        on_batch=lambda r: seen.append(r.calls_created),
    )
    assert report.calls_created == 3 and report.rejected == []
    assert seen == [1, 2, 3]
    assert sorted(Call.objects.values_list("external_id", flat=True)) == ["u0", "u1", "u2"]


def test_legs_split_across_batches_complete_the_call(world, tmp_path, monkeypatch):
    """A call whose legs arrive in two batches (or two --follow reads) is one call."""
    monkeypatch.setattr(importer, "BATCH_ROWS", 1)
    lines = [
        '"","99112244","700","from-trunk","x","PJSIP/trunk-2","Local/102@q-1;1","Queue","",'
        '"2026-03-02 11:00:00","","2026-03-02 11:02:00",120,0,"NO ANSWER",'
        '"DOCUMENTATION","t3","","","T2",1',
        '"","99112244","102","from-queue","x","Local/102@q-1;2","PJSIP/102-7","Dial","",'
        '"2026-03-02 11:00:02","2026-03-02 11:00:10","2026-03-02 11:02:00",118,110,"ANSWERED",'
        '"DOCUMENTATION","t4","","","T2",2',
    ]
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.calls_created == 1 and report.legs_added == 1
    call = Call.objects.get()
    assert call.outcome == "answered" and call.talk_seconds == 110 and call.legs.count() == 2
    assert call.manager == world.bob


def _row21(uid, src, dst, ch, dch, start, answer="", talk=0, disp=None, linked="", seq=0):
    """One 21-column cdr_csv line; ``start``/``answer`` as "YYYY-MM-DD HH:MM:SS"."""
    begin = dt.datetime.fromisoformat(start)
    end = (begin + dt.timedelta(seconds=talk + 10)).isoformat(" ")
    disp = disp or ("ANSWERED" if talk else "NO ANSWER")
    return (
        f'"","{src}","{dst}","ctx","""x"" <{src}>","{ch}","{dch}","Dial","","{start}",'
        f'"{answer}","{end}",{talk + 10},{talk},"{disp}","DOCUMENTATION","{uid}","","",'
        f'"{linked or uid}",{seq}'
    )


def test_import_refreshes_rollups_once_for_everything_it_changed(
    world, at, tmp_path, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """Several batches, several days: one refresh at the end, and the rollups then agree
    with the raw records: a missed call credited to the contact's owner, the callback
    returning it a day later, a lead from an unknown caller and its first call, a call
    completed by a leg in a later batch."""
    from funnelwatch.crm import services
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import engine, refresh

    settings.FUNNELWATCH_CALLS_CREATE_LEADS = True
    services.create_contact(
        actor=None, name="Known", owner=world.bob, phone_numbers=["+97699000001"]
    )
    lines = [
        _row21("m1", "99000001", "700", "PJSIP/trunk-1", "", "2026-03-02 10:00:00"),
        _row21(
            "n1",
            "88000009",
            "101",
            "PJSIP/trunk-2",
            "PJSIP/101-2",
            "2026-03-02 11:00:00",
            "2026-03-02 11:00:05",
            40,
        ),
        _row21(
            "o1",
            "101",
            "99000001",
            "PJSIP/101-3",
            "PJSIP/trunk-3",
            "2026-03-03 10:00:00",
            "2026-03-03 10:00:05",
            60,
        ),
        _row21(
            "q1",
            "99000001",
            "700",
            "PJSIP/trunk-5",
            "Local/102@q-1;1",
            "2026-03-04 12:00:00",
            linked="Q",
            seq=1,
        ),
        _row21(
            "q2",
            "99000001",
            "102",
            "Local/102@q-1;2",
            "PJSIP/102-6",
            "2026-03-04 12:00:01",
            "2026-03-04 12:00:08",
            50,
            linked="Q",
            seq=2,
        ),
        _row21(
            "o2",
            "102",
            "99000003",
            "PJSIP/102-4",
            "PJSIP/trunk-4",
            "2026-03-04 09:00:00",
            "2026-03-04 09:00:05",
            30,
        ),
        _row21(
            "o3",
            "101",
            "88000009",
            "PJSIP/101-7",
            "PJSIP/trunk-7",
            "2026-03-05 16:00:00",
        ),
    ]
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)  # the queue call's legs straddle two
    flushes = []
    real_flush = refresh._Batch.flush
    monkeypatch.setattr(refresh._Batch, "flush", lambda self: flushes.append(1) or real_flush(self))
    with django_capture_on_commit_callbacks(execute=True):
        report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.rejected == []
    assert (report.calls_created, report.legs_added, report.leads_created) == (6, 1, 1)
    assert len(flushes) == 1
    assert Call.objects.get(external_id="m1").callback == Call.objects.get(external_id="o1")
    assert Call.objects.get(external_id="Q").manager == world.bob
    march = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert engine.verify(march) == []


def test_imported_first_calls_refresh_the_leads_days_of_their_owners_then(
    world, at, tmp_path, settings, django_capture_on_commit_callbacks
):
    """Leads made before the import: the one whose first call (to its contact's second
    number) is in the file changes its owner-at-creation's day, though it has another
    owner by then; the call on it counts for that owner at the call. A lead called
    before the import keeps its first call."""
    from funnelwatch.crm import services
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import engine

    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    day = dt.date(2026, 3, 2)
    with django_capture_on_commit_callbacks(execute=True):
        two = services.create_contact(
            actor=None,
            name="Two",
            owner=world.alice,
            phone_numbers=["+97699000021", "+97699000022"],
        )
        early = services.create_contact(
            actor=None, name="Early", owner=world.alice, phone_numbers=["+97699000031"]
        )
        lead = services.create_lead(
            actor=None, title="A", owner=world.alice, contact=two, at=at(2026, 3, 2, 10)
        )
        services.create_lead(
            actor=None, title="B", owner=world.alice, contact=early, at=at(2026, 3, 2, 10)
        )
        services.reassign(lead, world.bob, actor=world.head, at=at(2026, 3, 3, 9))
    with django_capture_on_commit_callbacks(execute=True):
        _import(
            tmp_path,
            _row21("e1", "101", "99000031", "PJSIP/101-1", "PJSIP/trunk-1", "2026-03-02 10:30:00")
            + "\n",
        )
    alice_day = {0: {world.alice.pk}}
    before = engine.group_values(
        ["leads_called_pct"], Period(day, day + dt.timedelta(days=1)), alice_day
    )[0]
    assert before == {"leads_called_pct": 50.0}
    lines = [
        _row21("a1", "102", "99000022", "PJSIP/102-2", "PJSIP/trunk-2", "2026-03-05 11:00:00"),
        _row21("e2", "101", "99000031", "PJSIP/101-3", "PJSIP/trunk-3", "2026-03-05 12:00:00"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.calls_created == 2 and report.rejected == []
    assert Call.objects.get(external_id="a1").deal_id == lead.pk
    after = engine.group_values(
        ["leads_called_pct"], Period(day, day + dt.timedelta(days=1)), alice_day
    )[0]
    assert after == {"leads_called_pct": 100.0}
    assert engine.verify(Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))) == []


@pytest.mark.django_db(transaction=True)
def test_batches_commit_one_by_one_and_rollups_refresh_once(world, tmp_path, monkeypatch):
    """Each batch is its own transaction (a failure keeps what was committed before),
    while the rollups are refreshed once, after the last batch."""
    from funnelwatch.metrics import refresh

    lines = [
        _row21(
            f"u{i}",
            "101",
            "99000003",
            f"PJSIP/101-{i}",
            f"PJSIP/trunk-{i}",
            f"2026-03-0{2 + i} 10:00:00",
            f"2026-03-0{2 + i} 10:00:05",
            30,
        )
        for i in range(5)
    ]
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    batches, flushes = [], []
    real_ingest, real_flush = importer.ingest, refresh._Batch.flush
    monkeypatch.setattr(
        importer, "ingest", lambda *a, **kw: batches.append(1) or real_ingest(*a, **kw)
    )
    monkeypatch.setattr(refresh._Batch, "flush", lambda self: flushes.append(1) or real_flush(self))
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.calls_created == 5
    assert (len(batches), len(flushes)) == (3, 1)


def test_duplicates_inside_a_file_and_across_files(world, tmp_path):
    """A repeated row in one file, the same file again, and a later file that repeats
    some legs, brings a new leg of a stored call and a new call: each leg stored once."""
    a1 = _row21(
        "a1",
        "101",
        "99000003",
        "PJSIP/101-1",
        "PJSIP/trunk-1",
        "2026-03-02 10:00:00",
        "2026-03-02 10:00:05",
        30,
        linked="A",
        seq=1,
    )
    a2 = _row21(
        "a2",
        "101",
        "99000003",
        "PJSIP/101-1",
        "PJSIP/trunk-9",
        "2026-03-02 10:00:01",
        linked="A",
        seq=2,
    )
    b1 = _row21("b1", "102", "99000004", "PJSIP/102-2", "PJSIP/trunk-2", "2026-03-02 11:00:00")
    b2 = _row21(
        "b2",
        "99000004",
        "102",
        "PJSIP/trunk-3",
        "PJSIP/102-3",
        "2026-03-02 11:00:02",
        "2026-03-02 11:00:09",
        20,
        linked="b1",
        seq=5,
    )
    c1 = _row21("c1", "102", "99000005", "PJSIP/102-4", "PJSIP/trunk-4", "2026-03-02 12:00:00")
    first = _import(tmp_path, "\n".join([a1, b1, a2, b1]) + "\n")
    assert (first.calls_created, first.duplicates_skipped, first.legs_added) == (2, 1, 0)
    again = _import(tmp_path, "\n".join([a1, b1, a2, b1]) + "\n")
    assert (again.calls_created, again.duplicates_skipped, again.legs_added) == (0, 4, 0)
    later = _import(tmp_path, "\n".join([a2, b2, c1, a1]) + "\n")
    assert (later.calls_created, later.duplicates_skipped, later.legs_added) == (1, 2, 1)
    assert sorted(Call.objects.values_list("external_id", flat=True)) == ["A", "b1", "c1"]
    assert CallLeg.objects.count() == 5
    b = Call.objects.get(external_id="b1")
    assert b.outcome == "answered" and b.manager == world.bob and b.talk_seconds == 20


def test_rejected_lines_named_across_chunk_and_batch_edges(world, tmp_path, monkeypatch):
    """Lines read four at a time, calls written three at a time: every bad line is
    reported with its own number and reason, in order, and every good line is stored."""
    from funnelwatch.telephony.providers import csvfile

    monkeypatch.setattr(csvfile, "_BULK", 4)
    monkeypatch.setattr(importer, "BATCH_ROWS", 3)
    good = [
        _row21(
            f"g{i}",
            "101",
            "99000003",
            "PJSIP/101-1",
            "PJSIP/trunk-1",
            f"2026-03-02 10:{i:02d}:00",
            f"2026-03-02 10:{i:02d}:05",
            30,
        )
        for i in range(9)
    ]
    lines = [
        good[0],
        good[1],
        good[2],
        '"open,"quote',  # 4: the last line of the first chunk
        good[3].replace("2026-03-02 10:03:00", "2026-03-02 25:03:00"),  # 5: first of next
        good[4],
        "",
        good[5],
        good[6].replace('"ANSWERED"', '"MAYBE"'),  # 9
        '"a","b"',  # 10
        good[7],
        good[8],
    ]
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.rows_read == 11 and report.calls_created == 7
    assert [r.line for r in report.rejected] == [4, 5, 9, 10]
    reasons = [r.reason for r in report.rejected]
    assert reasons[0].startswith("malformed CSV")
    assert reasons[1].startswith("start:") and "25:03:00" in reasons[1]
    assert reasons[2].startswith("disposition:") and "MAYBE" in reasons[2]
    assert reasons[3].startswith("columns:") and "got 2" in reasons[3]
    stored = sorted(Call.objects.values_list("external_id", flat=True))
    assert stored == ["g0", "g1", "g2", "g4", "g5", "g7", "g8"]


def test_callbacks_link_across_imports_in_any_order(world, tmp_path):
    """A missed call imported after the calls that returned it is linked to the first
    later outbound call to its number; of two at the same second, the one stored first."""
    out = [
        _row21("o1", "101", "99000006", "PJSIP/101-1", "PJSIP/trunk-1", "2026-03-02 12:00:00"),
        _row21("o2", "102", "99000006", "PJSIP/102-1", "PJSIP/trunk-2", "2026-03-02 12:00:00"),
        _row21("o3", "101", "99000006", "PJSIP/101-1", "PJSIP/trunk-3", "2026-03-02 09:00:00"),
    ]
    _import(tmp_path, "\n".join(out) + "\n")
    missed = [
        _row21("m1", "99000006", "700", "PJSIP/trunk-4", "", "2026-03-02 10:00:00"),
        _row21("m2", "99000006", "700", "PJSIP/trunk-5", "", "2026-03-02 11:59:59"),
        _row21("m3", "99000006", "700", "PJSIP/trunk-6", "", "2026-03-02 12:00:00"),
    ]
    _import(tmp_path, "\n".join(missed) + "\n")
    first = Call.objects.get(external_id="o1")
    assert Call.objects.get(external_id="m1").callback == first
    assert Call.objects.get(external_id="m2").callback == first
    assert Call.objects.get(external_id="m2").callback_at == first.started_at
    assert Call.objects.get(external_id="m3").callback is None  # nothing later


def test_stored_missed_calls_link_to_the_first_call_back_of_a_later_import(world, tmp_path):
    """Missed calls stored first are linked when the calls back arrive: to the first
    later outbound call, of two at the same second the one stored first, with its start."""
    missed = [
        _row21("m1", "99000007", "700", "PJSIP/trunk-4", "", "2026-03-02 10:00:00"),
        _row21("m2", "99000007", "700", "PJSIP/trunk-5", "", "2026-03-02 12:30:00"),
    ]
    _import(tmp_path, "\n".join(missed) + "\n")
    out = [
        _row21("o1", "101", "99000007", "PJSIP/101-1", "PJSIP/trunk-1", "2026-03-02 12:00:00"),
        _row21("o2", "102", "99000007", "PJSIP/102-1", "PJSIP/trunk-2", "2026-03-02 12:00:00"),
        _row21("o3", "101", "99000007", "PJSIP/101-1", "PJSIP/trunk-3", "2026-03-02 09:00:00"),
    ]
    _import(tmp_path, "\n".join([out[1], out[2], out[0]]) + "\n")
    first = Call.objects.filter(external_id__in=["o1", "o2"]).order_by("pk").first()
    assert Call.objects.get(external_id="m1").callback == first
    assert Call.objects.get(external_id="m1").callback_at == first.started_at
    assert Call.objects.get(external_id="m2").callback is None  # nothing later


def _plain21(uid, src, start, end, duration="10", billsec="0", disp="NO ANSWER"):
    """A 21-column inbound row with its times and seconds given as text, as written."""
    return (
        f'"","{src}","700","ctx","x","PJSIP/trunk-1","PJSIP/101-1","Dial","","{start}","",'
        f'"{end}",{duration},{billsec},"{disp}","DOCUMENTATION","{uid}","","","{uid}",0'
    )


def test_impossible_times_and_seconds_are_rejected_rows_and_good_rows_kept(
    world, tmp_path, settings
):
    """Year 9999 or 1, a call a century ahead, 20-digit seconds: each such row is rejected
    with its line and field and leaves no call, contact, lead or audit event; the good
    rows around it are stored and the command exits normally."""
    from funnelwatch.crm.models import ContactPhone, Deal

    settings.FUNNELWATCH_CALLS_CREATE_LEADS = True
    lines = [
        _plain21("g1", "99000011", "2026-03-02 10:00:00", "2026-03-02 10:00:10"),
        _plain21("b2", "99000012", "9999-12-31 23:59:59", "9999-12-31 23:59:59", "0"),
        _plain21("b3", "99000013", "0001-01-01 00:00:00", "0001-01-01 00:00:10"),
        _plain21("b4", "99000014", "2026-03-02 10:01:00", "2026-03-02 10:01:10", "9" * 20),
        _plain21("g5", "99000015", "2026-03-02 10:02:00", "2026-03-02 10:02:10"),
        _plain21("b6", "99000016", "2026-03-02 10:03:00", "9999-12-31 10:00:00"),
        _plain21("b7", "99000017", "2100-01-01 10:00:00", "2100-01-01 10:00:10"),
        _plain21("b8", "99000018", "1999-12-31 10:00:00", "1999-12-31 10:00:10"),
        _plain21("b9", "99000019", "2026-03-02 10:04:00", "2026-03-02 10:04:10", "90000"),
    ]
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    # New York: 9999-12-31 23:59:59 there is past the last representable UTC moment.
    call_command(
        "import-calls", str(path), "--format", "asterisk-csv", "--tz", "America/New_York",
        "--json", stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["rows_read"] == 9 and data["calls_created"] == 2
    reasons = {r["line"]: r["reason"] for r in data["rejected"]}
    assert sorted(reasons) == [2, 3, 4, 6, 7, 8, 9]
    for line in (2, 3, 7, 8):
        assert reasons[line].startswith("start:") and "accepted range" in reasons[line]
    assert reasons[6].startswith("end:") and "accepted range" in reasons[6]
    assert reasons[4].startswith("duration:") and "86400" in reasons[4]
    assert reasons[9].startswith("duration:") and "90000" in reasons[9]
    assert sorted(Call.objects.values_list("external_id", flat=True)) == ["g1", "g5"]
    assert set(ContactPhone.objects.values_list("number", flat=True)) == {
        "+97699000011",
        "+97699000015",
    }
    assert Deal.objects.count() == 2
    calls = AuditEvent.objects.filter(object_type="telephony.call")
    assert sorted(calls.values_list("object_id", flat=True)) == sorted(
        str(pk) for pk in Call.objects.values_list("pk", flat=True)
    )


def test_year_one_east_of_utc_is_a_rejected_row(world, tmp_path):
    """Year 1 read in a zone east of UTC is before the first representable moment."""
    from zoneinfo import ZoneInfo

    lines = [
        _plain21("g1", "99000021", "2026-03-02 10:00:00", "2026-03-02 10:00:10"),
        _plain21("b2", "99000022", "0001-01-01 00:00:00", "0001-01-01 00:00:10"),
        _plain21("b3", "99000023", "0001-01-01T00:00:00+14:00", "2026-03-02 10:00:10"),
    ]
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n")
    report = importer.import_file(path, "asterisk-csv", tz=ZoneInfo("Pacific/Kiritimati"))
    assert report.calls_created == 1
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (2, "start"),
        (3, "start"),
    ]


def test_freeswitch_impossible_rows_rejected(world, tmp_path):
    good = (
        "Outbound Call,1002,99000031,default,2020/2/10 22:41,2020/2/10 22:41,"
        "2020/2/10 22:41,11,9,NORMAL_CLEARING,u-good,,1002"
    )
    lines = [
        good,
        good.replace("u-good", "u-b2").replace("2020/2/10 22:41", "9999/12/31 23:59"),
        good.replace("u-good", "u-b3").replace(",11,9,", f",{'9' * 20},9,"),
        good.replace("u-good", "u-b4").replace(",11,9,", ",11,-9,"),
    ]
    report = _import(tmp_path, "\n".join(lines) + "\n", "freeswitch-csv")
    assert report.calls_created == 1
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (2, "start_stamp"),
        (3, "duration"),
        (4, "billsec"),
    ]
    assert list(Call.objects.values_list("external_id", flat=True)) == ["u-good"]


def test_command_refuses_directories_missing_files_and_unknown_zones(world, tmp_path, settings):
    """Clear command errors, not tracebacks, and nothing imported."""
    from django.core.management.base import CommandError

    sample = str(SAMPLES / "freeswitch_cdr_csv_master.csv")
    cases = [
        ([str(tmp_path)], "is a directory"),
        ([str(tmp_path / "nope.csv")], "no such file"),
        ([sample, "--tz", "Not/AZone"], "unknown time zone 'Not/AZone'"),
        ([sample, "--tz", "../etc/passwd"], "unknown time zone"),
        ([sample, "--follow", "--poll", "0"], "--poll"),
        ([sample, "--follow", "--poll", "nan"], "--poll"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            call_command("import-calls", *args, "--format", "freeswitch-csv", stdout=io.StringIO())
    settings.FUNNELWATCH_CDR_TIMEZONE = "Mars/Olympus"
    with pytest.raises(CommandError, match="FUNNELWATCH_CDR_TIMEZONE: unknown time zone"):
        call_command("import-calls", sample, "--format", "freeswitch-csv", stdout=io.StringIO())
    assert not Call.objects.exists()


def test_command_exits_non_zero_when_every_row_is_rejected(world, tmp_path):
    """The summary is printed, then the command fails: nothing could be imported. An
    empty file, or one whose rows were all stored before, is no failure."""
    from django.core.management.base import CommandError

    path = tmp_path / "Master.csv"
    path.write_text(
        _plain21("b1", "99000041", "9999-12-31 10:00:00", "9999-12-31 10:00:10") + '\n"a","b"\n'
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"nothing imported \(2 rows read, all rejected\)"):
        call_command("import-calls", str(path), "--format", "asterisk-csv", stdout=out)
    assert "rows rejected: 2" in out.getvalue() and "line 1: start:" in out.getvalue()
    path.write_text("")
    call_command("import-calls", str(path), "--format", "asterisk-csv", stdout=io.StringIO())
    path.write_text(_plain21("g1", "99000042", "2026-03-02 10:00:00", "2026-03-02 10:00:10"))
    for _ in range(2):  # the second time: a duplicate, still no failure
        call_command("import-calls", str(path), "--format", "asterisk-csv", stdout=io.StringIO())
    assert Call.objects.count() == 1


def test_a_call_that_cannot_be_stored_is_rejected_alone(world, tmp_path, monkeypatch):
    """Should the database refuse one call's values, that call's lines are rejected with
    the reason and every other call of the batch is still stored, each all or nothing."""
    from django.db import DataError

    from funnelwatch.crm.models import ContactPhone
    from funnelwatch.telephony import ingest as ingest_mod

    real = ingest_mod._audit_created

    def picky(rows, ids):
        # The calls, legs and leads are written by now: refused, they must be rolled back.
        if any(row[1] == "bad" for row in rows):
            raise DataError("value out of range for the column")
        return real(rows, ids)

    monkeypatch.setattr(ingest_mod, "_audit_created", picky)
    lines = [
        _plain21(f"g{i}", f"9900005{i}", f"2026-03-02 10:0{i}:00", f"2026-03-02 10:0{i}:10")
        for i in range(5)
    ]
    lines.insert(2, _plain21("bad", "99000059", "2026-03-02 11:00:00", "2026-03-02 11:00:10"))
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.calls_created == 5
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "cannot be stored: value out of range for the column")
    ]
    assert sorted(Call.objects.values_list("external_id", flat=True)) == [f"g{i}" for i in range(5)]
    assert AuditEvent.objects.filter(object_type="telephony.call").count() == 5
    assert not CallLeg.objects.filter(leg_id="bad").exists()
    assert not ContactPhone.objects.filter(number="+97699000059").exists()


def test_ids_longer_than_their_columns_are_one_call_not_a_crash(world, tmp_path):
    """Two uniqueids that differ only past the 120 stored characters are one call as
    stored: the second row is a repeat, not a unique-key error that loses the batch."""
    long_id = "x" * 125
    lines = [
        _plain21(long_id + "1", "99000061", "2026-03-02 10:00:00", "2026-03-02 10:00:10"),
        _plain21(long_id + "2", "99000061", "2026-03-02 10:00:00", "2026-03-02 10:00:10"),
        _plain21("g3", "99000062", "2026-03-02 10:01:00", "2026-03-02 10:01:10"),
    ]
    report = _import(tmp_path, "\n".join(lines) + "\n")
    assert report.rejected == [] and report.calls_created == 2
    assert report.duplicates_skipped == 1
    assert Call.objects.filter(external_id="x" * 120).count() == 1


def test_command_reports_a_database_failure_without_a_traceback(world, tmp_path, monkeypatch):
    """The database itself failing (locked, away) is no rejected row: the import stops
    with a one-line error saying what was kept."""
    from django.core.management.base import CommandError
    from django.db import OperationalError

    def locked(records, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(importer, "ingest", locked)
    path = tmp_path / "Master.csv"
    path.write_text(_plain21("g1", "99000071", "2026-03-02 10:00:00", "2026-03-02 10:00:10"))
    with pytest.raises(CommandError, match="database is locked.*importing the file again"):
        call_command("import-calls", str(path), "--format", "asterisk-csv", stdout=io.StringIO())
