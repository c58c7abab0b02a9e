"""pg_dump and pg_restore of a version that can handle the server.

pg_dump refuses a server newer than itself, so the one on the PATH is not always usable:
Debian installs each major version under /usr/lib/postgresql/NN/bin. The newest client
that is at least the server's version is picked; without one the error names the package
to install.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings


class ClientMissing(Exception):
    """No pg_dump/pg_restore new enough for the server."""


def _major(binary: str) -> int | None:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s+(\d+)(?:\.(\d+))?", out) or re.search(r"(\d+)\.\d+", out)
    return int(match.group(1)) if match else None


def candidates(tool: str) -> list[str]:
    found: list[str] = []
    if settings.FUNNELWATCH_PG_BINDIR:
        found.append(str(Path(settings.FUNNELWATCH_PG_BINDIR) / tool))
    on_path = shutil.which(tool)
    if on_path:
        found.append(on_path)
    patterns = [f"/usr/lib/postgresql/*/bin/{tool}", f"/usr/pgsql-*/bin/{tool}"]
    for pattern in patterns:
        found += sorted(glob.glob(pattern))
    unique = []
    for path in found:
        if os.access(path, os.X_OK) and path not in unique:
            unique.append(path)
    return unique


def client_for(tool: str, server_major: int) -> tuple[str, int]:
    """The path and major version of ``tool`` to use against a server of ``server_major``."""
    versions = [(path, _major(path)) for path in candidates(tool)]
    usable = [(p, v) for p, v in versions if v is not None and v >= server_major]
    if usable:
        exact = [(p, v) for p, v in usable if v == server_major]
        return exact[0] if exact else max(usable, key=lambda pv: pv[1])
    have = ", ".join(f"{p} ({v})" for p, v in versions if v is not None) or "none found"
    raise ClientMissing(
        f"the PostgreSQL server is version {server_major}, and {tool} must be at least that "
        f"(found: {have}). Install the client of version {server_major} — on Debian or "
        f"Ubuntu: apt-get install postgresql-client-{server_major} — or point "
        f"FUNNELWATCH_PG_BINDIR at a folder holding {tool} {server_major} or newer."
    )


def connection_env(settings_dict: dict) -> tuple[list[str], dict[str, str]]:
    """Command-line arguments and environment for libpq tools from Django's settings."""
    args = []
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    options = settings_dict.get("OPTIONS") or {}
    for key, var in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
        ("passfile", "PGPASSFILE"),
        ("service", "PGSERVICE"),
    ):
        if options.get(key):
            env[var] = str(options[key])
    return args, env


def server_major(connection) -> int:
    with connection.cursor() as cur:
        cur.execute("SHOW server_version_num")
        return int(cur.fetchone()[0]) // 10000
