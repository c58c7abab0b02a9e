"""Operations settings, read from the environment when asked (tests change them)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from django.conf import settings

from funnelwatch.lib.env import envint, envsecret, envstr


def backup_dir() -> Path:
    """Where ``funnelwatch backup`` and the daily backup write their archives."""
    configured = getattr(settings, "FUNNELWATCH_BACKUP_DIR", "") or envstr("FUNNELWATCH_BACKUP_DIR")
    return Path(configured).resolve() if configured else settings.DATA_DIR / "backups"


def backup_daily_at() -> dt.time | None:
    """Local time of the daily backup (``HH:MM``); None: no scheduled backups."""
    raw = getattr(settings, "FUNNELWATCH_BACKUP_DAILY_AT", None)
    if raw is None:
        raw = envstr("FUNNELWATCH_BACKUP_DAILY_AT")
    raw = (raw or "").strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"FUNNELWATCH_BACKUP_DAILY_AT must be HH:MM (00:00-23:59), got {raw!r}")
    return dt.time(int(match.group(1)), int(match.group(2)))


def keep_daily() -> int:
    return max(
        getattr(settings, "FUNNELWATCH_BACKUP_KEEP_DAILY", None)
        or envint("FUNNELWATCH_BACKUP_KEEP_DAILY", 7),
        1,
    )


def keep_weekly() -> int:
    value = getattr(settings, "FUNNELWATCH_BACKUP_KEEP_WEEKLY", None)
    return max(value if value is not None else envint("FUNNELWATCH_BACKUP_KEEP_WEEKLY", 4), 0)


def pg_bindir() -> str:
    """A folder holding pg_dump and pg_restore of the server's version (optional)."""
    return envstr("FUNNELWATCH_PG_BINDIR")


def heartbeat_seconds() -> float:
    """How often the task worker and the periodic runner say they are alive."""
    return float(
        getattr(settings, "FUNNELWATCH_HEARTBEAT_SECONDS", None)
        or envint("FUNNELWATCH_HEARTBEAT_SECONDS", 10)
    )


def heartbeat_stale_seconds() -> int:
    """A process silent for longer than this is reported stopped."""
    return getattr(settings, "FUNNELWATCH_HEARTBEAT_STALE_SECONDS", None) or envint(
        "FUNNELWATCH_HEARTBEAT_STALE_SECONDS", 45
    )


def disk_min_free_percent() -> int:
    return envint("FUNNELWATCH_DISK_MIN_FREE_PERCENT", 10)


def metrics_token() -> str:
    """The bearer token Prometheus sends to /metrics; empty: /metrics is off (404)."""
    value = getattr(settings, "FUNNELWATCH_METRICS_TOKEN", None)
    return value if value is not None else envsecret("FUNNELWATCH_METRICS_TOKEN")
