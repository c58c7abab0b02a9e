from __future__ import annotations

import csv
import datetime as dt
import io
import json
from html import unescape

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from funnelwatch.audit.models import AuditEvent

WEEK = "period=week&date=2026-03-02"


def test_head_sees_every_manager_and_totals(client, sales, world, django_assert_max_num_queries):
    client.force_login(world.head)
    # The period shown is read in two parts (its last day apart, reused apart).
    with django_assert_max_num_queries(48):
        response = client.get(reverse("metrics:key_numbers") + "?" + WEEK)
    assert response.status_code == 200
    rows = response.context["table"].rows
    assert {r.user.username for r in rows if r.kind == "manager"} == {
        "lead",
        "alice",
        "bob",
        "outsider",
    }
    assert [r.kind for r in rows if r.kind != "manager"] == ["team", "team", "total"]
    total = rows[-1].cells
    # The first tab's columns only: those are all the page computes.
    assert total["leads_received"].value == 4 and "won_amount" not in total
    closing = client.get(reverse("metrics:key_numbers") + "?" + WEEK + "&block=closing")
    total = closing.context["table"].rows[-1].cells
    assert total["won_amount"].value == 5000 and "leads_received" not in total
    assert {m.block for m in closing.context["table"].metrics} == {"closing"}
    # A file holds every column, whichever tab was chosen last.
    from funnelwatch.metrics import registry

    head = client.get(reverse("metrics:key_numbers") + "?" + WEEK + "&format=csv")
    header = head.content.decode("utf-8-sig").splitlines()[0]
    for key in ("leads_received", "won_amount", "calls_out"):
        assert str(registry.get(key).label) in header


def test_key_numbers_query_count_does_not_grow_with_managers(
    client, sales, world, django_assert_num_queries, django_assert_max_num_queries, settings
):
    from funnelwatch.accounts.models import Role, User

    # Every answer read from the rollups each time (new members would otherwise be read
    # while the first count came from reused answers).
    settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS = 0

    client.force_login(world.head)
    client.get(reverse("metrics:key_numbers") + "?" + WEEK)  # warm caches (content types)
    # A few queries per metric kind (each app's metrics add theirs: 45 with the leads,
    # hand-off, client and quality blocks), none per manager.
    with django_assert_max_num_queries(45) as ctx:
        client.get(reverse("metrics:key_numbers") + "?" + WEEK)
    for i in range(5):
        User.objects.create_user(f"m{i}", role=Role.MANAGER, team=world.south)
    with django_assert_num_queries(len(ctx.captured_queries)):
        client.get(reverse("metrics:key_numbers") + "?" + WEEK)


def test_manager_sees_own_row_and_team_total_only(client, sales, world):
    client.force_login(world.bob)
    rows = client.get(reverse("metrics:key_numbers") + "?" + WEEK).context["table"].rows
    assert [(r.kind, r.label) for r in rows] == [("manager", "Bob"), ("team", "South")]


def test_team_lead_sees_the_team(client, sales, world):
    client.force_login(world.lead)
    rows = client.get(reverse("metrics:key_numbers") + "?" + WEEK).context["table"].rows
    assert {r.label for r in rows if r.kind == "manager"} == {"Lead", "Alice"}
    assert [r.label for r in rows if r.kind == "team"] == ["North"]


@pytest.mark.parametrize(
    ("who", "label", "leads"),
    [("head", "", 4), ("lead", "North", 2), ("alice", "North", 2), ("bob", "South", 2)],
)
def test_department_rows_for_every_role(client, sales, world, who, label, leads):
    """Rows "department" (by=none): the department for the head; for a team lead or a
    manager, everything they may see as one row (it answered 500 for them: no row at
    all left the unanswered-letters count asking about no managers)."""
    client.force_login(getattr(world, who))
    url = reverse("metrics:key_numbers")
    assert client.get(f"{url}?period=week&by=none").status_code == 200
    response = client.get(f"{url}?{WEEK}&by=none")
    assert response.status_code == 200
    (row,) = response.context["table"].rows
    assert (row.kind, row.label) == ("total", label)
    assert row.cells["leads_received"].value == leads
    if label:
        assert f"Total: {label}" in response.content.decode()
    csv_text = client.get(f"{url}?{WEEK}&by=none&format=csv").content.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(csv_text.splitlines()[1])))[:2] == (
        ["Total", label] if label else ["Department total", ""]
    )


def test_department_row_of_a_manager_without_a_team_is_their_own(client, sales, world):
    client.force_login(world.outsider)
    url = reverse("metrics:key_numbers")
    for by in ("none", "team", "manager"):
        assert client.get(f"{url}?{WEEK}&by={by}").status_code == 200
    (row,) = client.get(f"{url}?{WEEK}&by=none").context["table"].rows
    assert row.members == {world.outsider.pk} and row.label == "Outsider"


def test_key_numbers_of_one_manager_as_the_alert_links_them(client, sales, world):
    """An activity-drop alert links "key numbers" with ?manager=N: the page shows that
    manager's row (the numbers the full table has for them), keeps the manager when the
    period changes or the table is exported, and refuses anyone the viewer may not see."""
    from funnelwatch.alerts.messages import links
    from funnelwatch.alerts.models import Kind

    (url,) = [u for _label, u in links(Kind.ACTIVITY_DROP, {}, world.alice.pk)]
    client.force_login(world.head)
    full = client.get(reverse("metrics:key_numbers") + "?" + WEEK).context["table"]
    expected = next(r for r in full.rows if r.user == world.alice)
    response = client.get(f"{url}&{WEEK}")
    assert response.status_code == 200
    (row,) = response.context["table"].rows
    assert row.user == world.alice
    assert {k: c.value for k, c in row.cells.items()} == {
        k: c.value for k, c in expected.cells.items()
    }
    html = unescape(response.content.decode())
    assert f'name="manager" value="{world.alice.pk}"' in html
    assert f"&manager={world.alice.pk}&format=csv" in html
    assert f"date=2026-03-09&by=manager&manager={world.alice.pk}" in html
    lines = client.get(f"{url}&{WEEK}&format=csv").content.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["alice"]
    for who, other, status in [
        (world.lead, world.alice, 200),
        (world.lead, world.bob, 404),
        (world.alice, world.alice, 200),
        (world.alice, world.bob, 404),
    ]:
        client.force_login(who)
        got = client.get(f"{reverse('metrics:key_numbers')}?manager={other.pk}&{WEEK}")
        assert got.status_code == status, (who, other)
    client.force_login(world.head)
    assert client.get(f"{reverse('metrics:key_numbers')}?manager=999999").status_code == 404
    for bad in ("abc", "-1", "1.5", "0"):  # no id at all: named in a 400
        response = client.get(f"{reverse('metrics:key_numbers')}?manager={bad}")
        assert response.status_code == 400 and b"manager" in response.content
    # An empty choice is no choice: the whole table.
    rows = client.get(f"{reverse('metrics:key_numbers')}?manager=&{WEEK}").context["table"].rows
    assert len(rows) == len(full.rows)


def test_drill_down_lists_the_records(client, sales, world, django_assert_max_num_queries):
    client.force_login(world.head)
    url = reverse("metrics:records", args=["won_count"])
    with django_assert_max_num_queries(6):
        response = client.get(f"{url}?{WEEK}&manager={world.alice.pk}")
    assert response.status_code == 200
    assert [r["deal"].title for r in response.context["rows"]] == ["D1"]


def test_drill_down_of_another_manager_is_refused(client, sales, world):
    client.force_login(world.bob)
    url = reverse("metrics:records", args=["leads_received"])
    assert client.get(f"{url}?{WEEK}&manager={world.alice.pk}").status_code == 404
    # A team total's records are narrowed to what bob may see: his own (D3 was his when
    # it was created, though alice owns it now).
    response = client.get(f"{url}?{WEEK}&team={world.south.pk}")
    assert {r["deal"].title for r in response.context["rows"]} == {"D3", "D4"}
    assert client.get(f"{url}?{WEEK}&team={world.north.pk}").status_code == 404
    assert client.get(reverse("metrics:manager", args=[world.alice.pk])).status_code == 404


def test_manager_page_funnel_and_sales(client, sales, world):
    client.force_login(world.head)
    assert client.get(reverse("metrics:manager", args=[world.alice.pk])).status_code == 200
    response = client.get(
        reverse("metrics:funnel") + "?period=custom&from=2026-03-01&to=2026-03-31"
    )
    assert response.status_code == 200
    funnel = response.context["funnel"]
    assert funnel.deals == 4 and funnel.won == 1 and funnel.junk == 1
    assert [b["reached"] for b in funnel.blocks] == [4, 2, 2, 1, 1]
    response = client.get(reverse("metrics:sales") + "?period=month&date=2026-03-01")
    assert response.status_code == 200


def test_manager_page_row_is_the_key_numbers_row(client, sales, world):
    """The manager page computes only this manager's row: the same numbers the whole
    table shows for them; a manager the viewer may not see has no row."""
    from funnelwatch.lib.dates import Period
    from funnelwatch.reports import queries

    week = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    full = queries.key_numbers(world.head, week, by="manager")
    for person in (world.alice, world.bob):
        one = queries.key_numbers(world.head, week, by="manager", only=person.pk)
        (row,) = one.rows
        expected = next(r for r in full.rows if r.user == person)
        assert {k: vars(c) for k, c in row.cells.items()} == {
            k: vars(c) for k, c in expected.cells.items()
        }
        assert row.cells["leads_received"].value == 2
    assert queries.key_numbers(world.bob, week, by="manager", only=world.alice.pk).rows == []
    client.force_login(world.head)
    page = client.get(reverse("metrics:manager", args=[world.alice.pk]))
    assert page.context["row"].user == world.alice


def test_manager_row_reads_now_metrics_for_the_full_tables_scope(sales, world, monkeypatch):
    """A "now" metric may credit a manager differently by who else is in scope (letters
    left unanswered are found through threads of anyone in it): the one-row table
    computes those for the scope the full table has."""
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import engine
    from funnelwatch.reports import queries

    scopes = []
    real = engine._live_points
    monkeypatch.setattr(
        engine,
        "_live_points",
        lambda key, day, managers: scopes.append(managers) or real(key, day, managers),
    )
    week = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    for viewer in (world.head, world.lead):
        scopes.clear()
        queries.key_numbers(viewer, week, by="manager")
        full = list(scopes)
        scopes.clear()
        queries.key_numbers(viewer, week, by="manager", only=world.alice.pk)
        assert scopes == full and full


def test_pages_need_a_login(client, db):
    assert client.get(reverse("metrics:key_numbers")).status_code == 302


def test_exports_open_and_are_audited(client, sales, world):
    client.force_login(world.head)
    url = reverse("metrics:key_numbers") + "?period=custom&from=2026-03-02&to=2026-03-08"
    response = client.get(url + "&format=csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["Manager", "Team", "Leads received"]
    # Teams in name order, managers without a team after them.
    assert [row[0] for row in lines[1:4]] == ["alice", "lead", "bob"]
    assert ["alice", "North", "2"] == lines[1][:3]
    response = client.get(url + "&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A2"].value == "alice" and sheet["C2"].value == 2
    exports = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=world.head)
    assert exports.count() == 2


def test_api(client, sales, world, django_assert_max_num_queries):
    client.force_login(world.bob)
    with django_assert_max_num_queries(12):
        response = client.get(
            "/api/metrics?from=2026-03-02&to=2026-03-09&metrics=leads_received,won_amount,junk_pct"
        )
    assert response.status_code == 200
    data = response.json()
    assert data["from"] == "2026-03-02" and data["to"] == "2026-03-09"
    assert data["rows"] == [
        {
            "manager": "bob",
            "team": "South",
            "metrics": {"leads_received": 2, "junk_pct": 0.0, "won_amount": "0.00"},
        },
        {
            "manager": None,
            "team": "South",
            "metrics": {"leads_received": 2, "junk_pct": 0.0, "won_amount": "0.00"},
        },
    ]
    assert client.get("/api/metrics?from=2026-03-02&to=2026-03-09&metrics=nope").status_code == 422


def test_api_refuses_anonymous(client, db):
    assert client.get("/api/metrics?from=2026-03-02&to=2026-03-09").status_code == 401


def test_metrics_command_prints_json(sales, world, capsysbinary):
    call_command(
        "metrics",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-09",
        "--by",
        "none",
        "--metrics",
        "won_amount,margin_pct,objection_avg_days",
    )
    data = json.loads(capsysbinary.readouterr().out)
    assert data == {
        "from": "2026-03-02",
        "to": "2026-03-09",
        "rows": [],
        "totals": {"objection_avg_days": 2.0, "won_amount": "5000.00", "margin_pct": 40.0},
    }


def test_metrics_command_by_manager(sales, world, capsysbinary, tmp_path):
    call_command(
        "metrics", "--from", "2026-03-02", "--to", "2026-03-09", "--metrics", "revived_pct"
    )
    data = json.loads(capsysbinary.readouterr().out)
    by_name = {r["manager"]: r["metrics"]["revived_pct"] for r in data["rows"]}
    assert by_name["alice"] == 100.0 and by_name["bob"] is None
    out = tmp_path / "k.xlsx"
    call_command(
        "metrics",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-09",
        "--format",
        "xlsx",
        "--output",
        str(out),
    )
    assert load_workbook(out).active["A1"].value == "Manager"


def test_rollups_commands(sales, world, capsys):
    from funnelwatch.metrics.models import DailyValue

    call_command("rollups", "verify", "--from", "2026-02-20", "--to", "2026-03-20")
    DailyValue.objects.filter(metric="won_count").update(value=7)
    with pytest.raises(Exception, match="differ"):
        call_command("rollups", "verify", "--from", "2026-02-20", "--to", "2026-03-20")
    assert "won_count" in capsys.readouterr().out
    call_command("rollups", "rebuild", "--from", "2026-02-20", "--to", "2026-03-20")
    call_command("rollups", "verify", "--from", "2026-02-20", "--to", "2026-03-20")


def _both_ways(by_template: str, tag: str, table, language: str, **more) -> tuple[str, str]:
    """The rows of ``table`` (the week of 2 March, its metrics; ``more`` in the context too)
    written by ``by_template`` and by the tag ``tag`` (``{% tag row metrics %}``), in
    ``language``: (expected, got)."""
    from django.template import engines
    from django.utils import translation

    context = {
        "table": table,
        "metrics": table.metrics,
        "period_query": "period=custom&from=2026-03-02&to=2026-03-08",
        **more,
    }

    built = (
        "{% load reports_fw %}{% for row in table.rows %}\n"
        f"{{% {tag} row metrics %}}{{% endfor %}}"
    )
    django_engine = engines["django"]
    with translation.override(language):
        expected = django_engine.from_string(by_template).render(context)
        got = django_engine.from_string(built).render(context)
    return expected, got


# The cells as a template would write them (key_number_cells builds them in Python).
CELLS_BY_TEMPLATE = """{% load i18n reports_fw %}{% for row in table.rows %}
{% for m in metrics %}{% with c=row|cell:m.key %}<td class="num {{ c.tone }}"{% if c.tone %}{% blocktranslate with z=c.z|stringformat:'+.1f' asvar far %}far from the manager's usual ({{ z }} robust deviations){% endblocktranslate %} title="{{ far|force_escape }}"{% endif %}><a href="{% url 'metrics:records' m.key %}?{{ period_query }}{% if row.kind == 'manager' %}&manager={{ row.user.pk }}{% elif row.kind == 'team' %}&team={{ row.team.pk }}{% endif %}">{{ c.value|show:m }}</a>{% if c.change is not None %}{% blocktranslate with period=previous_label asvar against %}against {{ period }}{% endblocktranslate %}<small title="{{ against|force_escape }}">{{ c.change|signed:m }}</small>{% endif %}</td>{% endwith %}{% endfor %}{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["en", "ru"])
def test_key_number_cells_are_what_the_template_wrote(sales, world, language):
    from funnelwatch.lib.dates import Period
    from funnelwatch.reports import queries

    table = queries.key_numbers(world.head, Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9)))
    for row in table.rows:  # as the page marks them: only large changes are coloured
        for c in row.cells.values():
            c.tone, c.z = "", None
    big = next(r for r in table.rows if r.kind == "manager").cells["leads_received"]
    big.tone, big.z = "bad", -3.14159
    expected, got = _both_ways(
        CELLS_BY_TEMPLATE,
        "key_number_cells",
        table,
        language,
        previous_label="23.02.2026 – 01.03.2026",
    )
    assert got == expected
    assert "−3.1" in got or "-3.1" in got
    assert "&amp;to=" in got and "&manager=" in got and "&team=" in got and "<small" in got


# The fields of a row's card (the phone layout) as a template would write them.
FIELDS_BY_TEMPLATE = """{% load reports_fw %}{% for row in table.rows %}
{% for m in metrics %}{% with c=row|cell:m.key %}<dt>{{ m.label }}</dt><dd class="{{ c.tone }}"><a href="{% url 'metrics:records' m.key %}?{{ period_query }}{% if row.kind == 'manager' %}&manager={{ row.user.pk }}{% elif row.kind == 'team' %}&team={{ row.team.pk }}{% endif %}">{{ c.value|show:m }}</a>{% if c.change is not None %} <small>{{ c.change|signed:m }}</small>{% endif %}</dd>{% endwith %}{% endfor %}{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["en", "ru"])
def test_key_number_fields_are_what_the_template_wrote(sales, world, language):
    from funnelwatch.lib.dates import Period
    from funnelwatch.reports import queries

    table = queries.key_numbers(world.head, Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9)))
    big = next(r for r in table.rows if r.kind == "manager").cells["leads_received"]
    big.tone = "bad"
    expected, got = _both_ways(FIELDS_BY_TEMPLATE, "key_number_fields", table, language)
    assert got == expected
    # Money, percentages, an undefined value, changes: every branch was written.
    assert "5\u202f000" in got and "%" in got and "—" in got and "<small>" in got
    assert 'class="bad"' in got and "&amp;to=" in got and "&team=" in got


# The sales table's cells as its template wrote them (sales_cells builds them in Python).
SALES_CELLS_BY_TEMPLATE = """{% load reports_fw %}{% for row in table.rows %}
{% for m in table.metrics %}{% with c=row|cell:m.key %}<td class="num"><a href="{% url 'metrics:records' m.key %}?{{ period_query }}{% if row.kind == 'manager' %}&manager={{ row.user.pk }}{% elif row.kind == 'team' %}&team={{ row.team.pk }}{% endif %}">{{ c.value|show:m }}</a>{% if c.change is not None %} <small class="{{ c.tone }}">{{ c.change|signed:m }}</small>{% endif %}</td>{% endwith %}{% endfor %}{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["en", "ru"])
def test_sales_cells_are_what_the_template_wrote(sales, world, language):
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import registry
    from funnelwatch.reports import queries

    keys = [m.key for m in registry.by_block("sales")]
    table = queries.key_numbers(
        world.head, Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9)), metrics=keys
    )
    expected, got = _both_ways(SALES_CELLS_BY_TEMPLATE, "sales_cells", table, language)
    assert got == expected
    # Money, percentages, an undefined value, changes both ways: every branch was written.
    assert "5\u202f000" in got and "%" in got and "—" in got and "<small" in got
    assert "&amp;to=" in got and "&manager=" in got and "&team=" in got
