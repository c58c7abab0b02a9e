from __future__ import annotations

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
