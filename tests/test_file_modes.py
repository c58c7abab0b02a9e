"""The data folder's files are the owner's only: the SQLite database and its WAL/SHM files,
the generated keys, and every recording and attachment in the media folder.

Run in a fresh process with the usual umask (022), as a real start would be: the settings
create the data folder and the database file when they are imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, os, stat, sys
os.umask(0o022)
import django
django.setup()
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from funnelwatch.mail.crypto import fernet_key

with connection.cursor() as cur:
    cur.execute("CREATE TABLE t (x integer)")
    cur.execute("INSERT INTO t VALUES (1)")
fernet_key()
name = default_storage.save("recordings/2026/03/call-1.wav", ContentFile(b"RIFF"))
data = settings.DATA_DIR
media = settings.MEDIA_ROOT
paths = {
    "data": data,
    "database": data / "funnelwatch.sqlite3",
    "wal": data / "funnelwatch.sqlite3-wal",
    "shm": data / "funnelwatch.sqlite3-shm",
    "secret_key": data / "secret_key",
    "fernet_key": data / "fernet_key",
    "media": media,
    "recordings": media / "recordings",
    "month": media / "recordings" / "2026" / "03",
    "recording": media / name,
}
print(json.dumps({k: oct(stat.S_IMODE(os.stat(p).st_mode)) for k, p in paths.items()}))
"""


def _modes(tmp_path: Path, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SECRET_KEY", "SECRET_KEY_FILE", "FUNNELWATCH_MEDIA_DIR")
        and not k.startswith("FUNNELWATCH_FERNET")
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "funnelwatch.settings",
        "FUNNELWATCH_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_database_keys_and_media_are_private(tmp_path):
    modes = _modes(tmp_path, tmp_path / "var" / "funnelwatch")
    assert modes == {
        "data": "0o700",
        "database": "0o600",
        "wal": "0o600",
        "shm": "0o600",
        "secret_key": "0o600",
        "fernet_key": "0o600",
        "media": "0o700",
        "recordings": "0o700",
        "month": "0o700",
        "recording": "0o600",
    }
