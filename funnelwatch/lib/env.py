"""Small typed readers for settings taken from the environment (healthchecks style)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def envtime(name: str, default: str) -> dt.time:
    """A local time of day written ``HH:MM`` (``19`` alone means 19:00)."""
    value = os.environ.get(name) or default
    hours, _sep, minutes = value.strip().partition(":")
    try:
        return dt.time(int(hours), int(minutes or 0))
    except ValueError:
        raise ValueError(f"{name} must be a time HH:MM (00:00-23:59), got {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envsecret(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (for Docker/systemd secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the owner only (0700).

    The data folder holds the database, the secret keys and every recording and
    attachment; on a shared host the default (0755 under the usual umask) lets every
    local user read them. A folder that already exists keeps the mode it has: changing an
    operator's own choice (a backup group, say) is not ours to do.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass  # another process made it first
        else:
            os.chmod(path, 0o700)  # whatever the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with owner-only permissions (0600) unless it exists.

    For the SQLite database: SQLite creates a missing file 0644 and gives its ``-wal`` and
    ``-shm`` files the database file's mode, so creating the file first makes all three
    private.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    os.fchmod(fd, 0o600)
    os.close(fd)
    return path


def stored_secret(data_dir: Path, filename: str, nbytes: int = 50) -> str:
    """A secret generated once into the data folder and read back on every later start."""
    path = data_dir / filename
    if path.exists():
        return path.read_text().strip()
    private_dir(data_dir)
    value = secrets.token_urlsafe(nbytes)
    # Create with owner-only permissions; another process may have won the race.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value
