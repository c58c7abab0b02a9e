"""Browser journeys: Playwright driving Debian's Chromium (never a browser the test tool
downloads). `make test` installs Chromium when it runs as root and it is missing; where
it cannot, these tests are skipped with the reason, and CI always has it."""

from __future__ import annotations

import os
import shutil

import pytest

from funnelwatch.core.testing import CHROMIUM


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return
    skip = pytest.mark.skip(
        reason="Debian's chromium is not installed (run `make system-deps` as root)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
