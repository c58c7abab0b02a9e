"""The rules and digests against the metrics app's own definitions and daily rollups."""

from __future__ import annotations

import datetime as dt

import time_machine

from funnelwatch.alerts import digests, engine
from funnelwatch.alerts.models import Alert, DigestCopy, Kind
from funnelwatch.alerts.tests.conftest import workdays_between
from funnelwatch.crm import services as crm
from funnelwatch.lib.dates import Period
from funnelwatch.metrics.engine import rebuild


def test_activity_drop_from_audited_crm_actions_and_rollups(world, at, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    deal = crm.create_lead(
        actor=world.alice, title="Busy deal", owner=world.alice, at=at(2026, 2, 16, 9)
    )
    baseline = workdays_between(dt.date(2026, 2, 18), dt.date(2026, 3, 18))
    recent = workdays_between(dt.date(2026, 3, 18), dt.date(2026, 3, 25))
    for day in baseline:
        for hour in (10, 11, 12, 14, 15, 16):
            crm.add_note(
                actor=world.alice, deal=deal, text="called", at=at(*day.timetuple()[:3], hour)
            )
    for day in recent:
        crm.add_note(actor=world.alice, deal=deal, text="called", at=at(*day.timetuple()[:3], 10))
    rebuild(Period(dt.date(2026, 2, 1), dt.date(2026, 3, 26)))
    with time_machine.travel(at(2026, 3, 25, 10), tick=False):
        engine.evaluate(kinds=[Kind.ACTIVITY_DROP])
    alert = Alert.objects.get(kind=Kind.ACTIVITY_DROP)
    assert alert.manager == world.alice
    assert alert.numbers["metric"] == "crm_actions"
    assert alert.numbers["value"] == 5 and alert.numbers["usual"] == 30
    assert alert.message.endswith("in the last 5 working days against a usual 30 (−83%)")

    with time_machine.travel(at(2026, 3, 24, 19, 30), tick=False):
        digests.send_due()
    copy = DigestCopy.objects.get(recipient=world.alice, kind="daily")
    (row,) = copy.rows
    cells = {c["key"]: c["value"] for c in row["cells"]}
    assert cells["crm_actions"] == "1"
    assert row["open_alerts"] == 1
