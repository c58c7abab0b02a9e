"""Opening a letter loads nothing from the sender's servers until the reader asks."""

from __future__ import annotations

import re

import pytest

from funnelwatch.mail import services
from funnelwatch.mail.ingest import Incoming, store
from funnelwatch.mail.models import Message, Security
from funnelwatch.mail.parsing import parse

pytestmark = pytest.mark.django_db

TRACKED = (
    '<p>Offer attached</p><img src="https://tracker.example/open.gif?u=alice" width="1">'
    '<img src="//tracker.example/proto-relative.gif">'
    '<img src="/crm/deals/">'
    '<img src="cid:logo@client.test" alt="logo">'
    '<img srcset="https://tracker.example/a.png 1x, https://tracker.example/b.png 2x">'
    '<table background="https://tracker.example/bg.png"><tr><td>x</td></tr></table>'
    '<div style="background:url(https://tracker.example/css.png)">styled</div>'
    '<a href="https://client.test/offer">the offer</a>'
)


def _loading_attributes(html: str) -> list[str]:
    """Every address the browser would fetch by itself from this HTML."""
    found = re.findall(r'\s(?:src|srcset|background|poster)="([^"]*)"', html)
    found += re.findall(r"url\(([^)]*)\)", html)
    return found


def test_cleaning_blocks_every_remote_load_but_keeps_links_and_inline_parts():
    from funnelwatch.mail.parsing import clean_letter

    html, blocked = clean_letter(TRACKED)
    assert _loading_attributes(html) == ["cid:logo@client.test"]
    assert "tracker.example" not in html
    assert blocked == 3  # the three images with a src: tracker, protocol-relative, relative
    assert '<a href="https://client.test/offer"' in html and "Offer attached" in html

    shown, _ = clean_letter(TRACKED, remote_images=True)
    loads = _loading_attributes(shown)
    assert "https://tracker.example/open.gif?u=alice" in loads
    assert "/crm/deals/" not in loads and "//tracker.example/proto-relative.gif" not in loads


def _letter(world) -> Message:
    box = services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host="imap.test",
        port=993,
        login="alice",
        password="pw",
        security=Security.SSL,
    )
    raw = (
        b"From: x@client.test\r\nTo: alice@firm.test\r\nSubject: offer\r\n"
        b"Message-ID: <tracked@client.test>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + TRACKED.encode()
    )
    store([Incoming(parse(raw), "INBOX", 1, 1)], box)
    return Message.objects.get()


def test_letter_page_blocks_remote_images_until_asked(client, world):
    letter = _letter(world)
    client.force_login(world.alice)
    url = f"/mail/letters/{letter.pk}/"
    response = client.get(url)
    body = response.content.decode()
    assert "tracker.example" not in body
    assert 'id="images-blocked"' in body and 'href="?images=1"' in body
    assert "Show images" in body
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["img-src"] == "'self' data:"
    assert policy["script-src"] == "'self'"  # the site's policy, not replaced by the letter's

    shown = client.get(url + "?images=1")
    body = shown.content.decode()
    assert 'src="https://tracker.example/open.gif?u=alice"' in body
    assert 'id="images-blocked"' not in body and 'id="images-shown"' in body
    shown_policy = dict(
        part.strip().split(" ", 1) for part in shown["Content-Security-Policy"].split(";")
    )
    assert "https:" in shown_policy["img-src"]
    assert shown_policy["script-src"] == "'self'"


@pytest.mark.parametrize(
    "language,text",
    [("ru", "Показать изображения"), ("mn", "Зургийг харуулах")],
)
def test_show_images_is_translated(client, world, language, text):
    letter = _letter(world)
    client.force_login(world.alice)
    body = client.get(f"/mail/letters/{letter.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert text in body
