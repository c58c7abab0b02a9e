"""An https SITE_URL turns on Secure cookies and HSTS; a plain http one leaves them off (a
browser would otherwise drop the session cookie on a local demo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _settings(env: dict) -> dict:
    code = (
        "import json; from django.conf import settings as s; import django; django.setup();"
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SITE_URL", "SECURE_"))}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "funnelwatch.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(zip(["session", "csrf", "hsts"], json.loads(out.stdout), strict=True))


def test_https_site_gets_secure_cookies_and_hsts():
    assert _settings({"SITE_URL": "https://crm.example.mn"}) == {
        "session": True,
        "csrf": True,
        "hsts": 31_536_000,
    }


def test_plain_http_site_keeps_cookies_usable():
    assert _settings({"SITE_URL": "http://127.0.0.1:8000"}) == {
        "session": False,
        "csrf": False,
        "hsts": 0,
    }


def test_each_can_be_set_on_its_own():
    got = _settings({"SITE_URL": "https://crm.example.mn", "SECURE_HSTS_SECONDS": "600"})
    assert got["hsts"] == 600
