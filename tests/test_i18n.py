from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from django.urls import reverse


@pytest.mark.parametrize(
    "language,expected", [("mn", "Нэвтрэх"), ("ru", "Войти"), ("en", "Log in")]
)
def test_login_page_speaks_the_browsers_language(client, db, language, expected):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=language)
    assert f"<h1>{expected}</h1>" in response.content.decode()


def test_every_message_is_translated():
    """The Russian and Mongolian catalogues have no empty or fuzzy entries."""
    from pathlib import Path

    import funnelwatch

    for lang in ("ru", "mn"):
        po = Path(funnelwatch.__file__).parent / "locale" / lang / "LC_MESSAGES" / "django.po"
        text = po.read_text()
        entries = text.split("\n\n")[1:]
        empty = [e for e in entries if e.rstrip().endswith('msgstr ""') and "msgstr[" not in e]
        assert not empty, f"{lang}: {len(empty)} untranslated, e.g. {empty[0][:200]}"
        assert "#, fuzzy" not in text.split("\n\n", 1)[1], f"{lang}: fuzzy entries"


@pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgcmp")),
    reason="GNU gettext (xgettext, msgcmp) is not installed",
)
def test_every_message_in_the_code_is_in_both_catalogues(tmp_path):
    """Every string the code and templates mark for translation has an entry in the Russian and
    Mongolian catalogues: a fresh extraction is compared with each catalogue by msgcmp."""
    from pathlib import Path

    import funnelwatch

    source = Path(funnelwatch.__file__).parent
    copy = tmp_path / "funnelwatch"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.mo", "__pycache__", "static"))
    (copy / "locale" / "xx" / "LC_MESSAGES").mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "xx", "-v", "0"],
        cwd=copy,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "funnelwatch.settings"},
        check=True,
        capture_output=True,
    )
    extracted = copy / "locale" / "xx" / "LC_MESSAGES" / "django.po"
    for lang in ("ru", "mn"):
        catalogue = source / "locale" / lang / "LC_MESSAGES" / "django.po"
        result = subprocess.run(
            ["msgcmp", str(catalogue), str(extracted)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{lang}: missing from the catalogue:\n{result.stderr}"


def test_the_login_page_offers_each_language_before_signing_in(client, db):
    """Someone who cannot read the default language can switch before logging in."""
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for name in ("English", "Русский", "Монгол"):
        assert name in body
    response = client.post(reverse("set_language"), {"language": "mn", "next": "/login/"})
    assert response.status_code == 302
    assert "<h1>Нэвтрэх</h1>" in client.get(reverse("login")).content.decode()
