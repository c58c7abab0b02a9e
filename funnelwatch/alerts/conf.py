"""Settings of the alerts app, read from the environment (Django settings override them)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from funnelwatch.lib.env import envint, envstr

# Local time the evening digest goes out (HH:MM, company time zone).
DIGEST_TIME = envstr("FUNNELWATCH_DIGEST_TIME", "19:00")
# Weekday of the weekly report, Monday=0 (Friday by default).
WEEKLY_DIGEST_WEEKDAY = envint("FUNNELWATCH_WEEKLY_DIGEST_WEEKDAY", 4)
# After downtime, digests of up to this many past days are still sent.
DIGEST_CATCHUP_DAYS = envint("FUNNELWATCH_DIGEST_CATCHUP_DAYS", 2)
# Where daily metric values come from: "rollup" (the metrics app's daily rollups, kept
# current as events arrive) or "raw" (computed from the records; slower, for checks).
ALERTS_METRIC_SOURCE = envstr("FUNNELWATCH_ALERTS_METRIC_SOURCE", "rollup")
# How often the rules are evaluated.
ALERTS_EVERY_MINUTES = envint("FUNNELWATCH_ALERTS_EVERY_MINUTES", 15)


def get(name: str) -> object:
    """A setting: ``settings.FUNNELWATCH_<name>`` when defined, else the value above."""
    return getattr(settings, f"FUNNELWATCH_{name}", globals()[name])


def digest_time() -> dt.time:
    hours, _sep, minutes = str(get("DIGEST_TIME")).partition(":")
    return dt.time(int(hours), int(minutes or 0))


def workdays() -> list[int]:
    return list(settings.FUNNELWATCH_WORKDAYS)


def sla_minutes() -> int:
    return int(settings.FUNNELWATCH_CALL_SLA_MINUTES)
