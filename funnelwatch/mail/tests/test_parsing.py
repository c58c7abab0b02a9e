"""The parser on real-world oddities: it must never crash and must keep what it can."""

from __future__ import annotations

import datetime as dt

from funnelwatch.mail.parsing import clean_html, msgids, parse, subject_key

KOI8 = "Коммерческое предложение"


def test_windows_1251_body_and_raw_8bit_subject():
    body = "Добрый день! Высылаю счёт.".encode("cp1251")
    raw = (
        b"From: =?windows-1251?B?yOLg7SDP5fLw7uI=?= <ivan@client.test>\r\n"
        b"To: alice@firm.test\r\n"
        b"Subject: =?windows-1251?Q?=D1=F7=E5=F2?=\r\n"
        b"Date: Mon, 2 Mar 2026 10:00:00 +0800\r\n"
        b"Message-ID: <cp1251@client.test>\r\n"
        b"Content-Type: text/plain; charset=windows-1251\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    )
    p = parse(raw)
    assert p.subject == "Счет"
    assert p.from_name == "Иван Петров"
    assert p.from_addr == "ivan@client.test"
    assert "Высылаю счёт" in p.text
    assert p.sent_at == dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)


def test_koi8r_html_body_and_quoted_printable():
    html = f"<p>{KOI8}</p><script>alert(1)</script>".encode("koi8-r")
    import quopri

    raw = (
        b"From: client@client.test\r\nTo: alice@firm.test\r\n"
        b"Subject: =?koi8-r?B?" + __import__("base64").b64encode(KOI8.encode("koi8-r")) + b"?=\r\n"
        b"Message-ID: <koi8@client.test>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=koi8-r\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + quopri.encodestring(html)
    )
    p = parse(raw)
    assert p.subject == KOI8
    assert KOI8 in p.html
    assert "<script>" not in clean_html(p.html) and KOI8 in clean_html(p.html)


def test_encoded_words_split_across_folded_lines():
    raw = (
        b'From: "=?utf-8?Q?Bj=C3=B6rk?=" <bjork@client.test>\r\n'
        b"To: =?utf-8?B?0JDQu9C40YHQsA==?= <alice@firm.test>, bob@firm.test\r\n"
        b"Subject: =?utf-8?B?0J/RgNC10LTQu9C+0LbQtdC90LjQtSDQv9C+?=\r\n"
        b" =?utf-8?B?INC/0L7RgdGC0LDQstC60LU=?=\r\n"
        b"Message-ID: <ew@client.test>\r\n\r\nbody\r\n"
    )
    p = parse(raw)
    assert p.subject == "Предложение по поставке"
    assert p.from_name == "Björk"
    assert p.to == ["alice@firm.test", "bob@firm.test"]


def test_missing_message_id_gets_a_stable_synthesised_id():
    raw = (
        b"From: a@client.test\r\nTo: alice@firm.test\r\nSubject: hi\r\n"
        b"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nhello\r\n"
    )
    first, second = parse(raw), parse(raw)
    assert first.synthesised_id and first.message_id == second.message_id
    assert first.message_id.endswith("@synthesised.funnelwatch")
    other = parse(raw.replace(b"hello", b"bye"))
    assert other.message_id != first.message_id


def test_huge_attachment_is_skipped_with_a_note():
    from funnelwatch.mail.tests.letters import letter

    raw = letter(
        "a@client.test",
        "alice@firm.test",
        "Big",
        msgid="<big@client.test>",
        attachments=[
            ("video.bin", b"x" * 3000, "application/octet-stream"),
            ("small.txt", b"ok", "text/plain"),
        ],
    )
    p = parse(raw, max_attachment=1000)
    big, small = p.attachments
    assert big.payload is None and big.size == 3000
    assert small.payload == b"ok"
    assert any("video.bin" in n and "not stored" in n for n in p.notes)


def test_malformed_mime_keeps_headers_and_text():
    raw = (
        b"From: broken@client.test\r\nTo: alice@firm.test\r\nSubject: Broken\r\n"
        b"Message-ID: <broken@client.test>\r\n"
        b'Content-Type: multipart/mixed; boundary="NEVER"\r\n\r\n'
        b"no boundary ever appears\r\n--WRONG\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
    )
    p = parse(raw)
    assert p.subject == "Broken" and p.message_id == "broken@client.test"
    assert any("defects" in n.lower() for n in p.notes)


def test_garbage_never_raises():
    for raw in [
        b"",
        b"\x00\xff\xfe garbage",
        b"Subject: =?bogus-charset?Q?x?=\r\n\r\n",
        b"Date: not a date\r\nFrom: <<<>>>\r\n\r\n",
    ]:
        p = parse(raw)
        assert p.message_id


def test_threading_helpers():
    assert msgids("<A@Host.COM> <b@h>") == ["A@host.com", "b@h"]
    assert msgids("a@h.com") == ["a@h.com"]
    assert subject_key("RE: Fwd: Ответ:  Order  12") == "order 12"
    assert subject_key("AW: SV: price") == "price"


def test_raw_8bit_headers_and_a_comma_inside_an_encoded_name():
    raw = (
        "From: =?utf-8?B?0J/QtdGC0YDQvtCyLCDQmNCy0LDQvQ==?= <ivan@client.test>\r\n"
        "To: Анна <anna@firm.test>\r\n"
        "Subject: Заказ на март\r\n"
        "Message-ID: <raw8@client.test>\r\n\r\nтекст\r\n"
    ).encode()
    p = parse(raw)
    assert p.from_name == "Петров, Иван" and p.from_addr == "ivan@client.test"
    assert p.to == ["anna@firm.test"]
    assert p.subject == "Заказ на март"
    cp = parse("Subject: Счёт\r\nFrom: a@b.test\r\n\r\nx".encode("cp1251"))
    assert cp.subject == "Счёт"
