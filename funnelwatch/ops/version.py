"""The product's version: from pyproject.toml in a source checkout (an editable install's
metadata keeps the version it was installed with), else from the installed package's
metadata."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@cache
def version() -> str:
    if PYPROJECT.is_file():
        try:
            project = tomllib.loads(PYPROJECT.read_text()).get("project", {})
        except (OSError, tomllib.TOMLDecodeError):
            project = {}
        if project.get("name") == "funnelwatch" and project.get("version"):
            return str(project["version"])
    try:
        return metadata.version("funnelwatch")
    except metadata.PackageNotFoundError:
        return "unknown"
