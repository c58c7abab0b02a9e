"""``funnelwatch version``: the product's version from its package metadata (Django answers
``version`` with its own unless the command line hands it to ours)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import django

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_version_is_the_products():
    expected = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert expected != django.get_version()
    assert _run("-m", "funnelwatch.cli", "version") == expected
    info = json.loads(_run("-m", "funnelwatch.cli", "version", "--json"))
    assert info["version"] == expected and info["django"] == django.get_version()
    assert _run(str(PYPROJECT.parent / "manage.py"), "version") == expected
