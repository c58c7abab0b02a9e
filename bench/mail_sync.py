"""Mail sync speed against a real Dovecot: first sync of N letters, then a sync with nothing new.

    .venv/bin/python bench/mail_sync.py [--letters 10000] [--db sqlite|DATABASE_URL]

Starts a throw-away Dovecot (as the IMAP tests do), delivers the letters with IMAP APPEND
(70% INBOX, 30% Sent, threads of replies, 3% with a small PDF, 40% from known contacts),
builds a fresh database in a temporary data folder, and times ``sync_mailbox``.
Targets: first sync under 120 s, incremental sync with nothing new under 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument(
        "--profile", action="store_true", help="print where the first sync spends time"
    )
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="fw-mailbench-"))
    os.environ["FUNNELWATCH_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    os.environ["FUNNELWATCH_FERNET_KEY"] = "9nlFYP7a5UrrzInuglVwGQkpMr0JR-BXbvhw2KsdMvk="
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from funnelwatch.accounts.models import Role, User, UserEmail
    from funnelwatch.core.testing import make_pipeline
    from funnelwatch.crm import services as crm
    from funnelwatch.mail import services
    from funnelwatch.mail.models import Message, Security
    from funnelwatch.mail.sync import sync_mailbox
    from funnelwatch.mail.tests.conftest import PASSWORD, _ensure_dovecot, _start
    from funnelwatch.mail.tests.letters import letter

    binary, reason = _ensure_dovecot()
    if not binary:
        sys.exit(f"cannot run: {reason}")
    tmp = Path(tempfile.mkdtemp(prefix="fw-dovecot-"))
    tmp.chmod(0o755)
    proc, port, _ssl_port = _start(tmp, binary)
    try:
        make_pipeline()
        manager = User.objects.create_user("m1", "m1@firm.test", "x", role=Role.MANAGER)
        UserEmail.objects.create(user=manager, email="m1@firm.test")
        clients = []
        for i in range(args.contacts):
            c = crm.create_contact(
                actor=None, name=f"Client {i}", owner=manager, emails=[f"c{i}@client.test"]
            )
            crm.create_lead(actor=None, title=f"Deal {i}", owner=manager, contact=c)
            clients.append(f"c{i}@client.test")

        rng = random.Random(7)
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        inbox, sent = [], []
        body = "Good afternoon,\n\n" + ("we are looking at your offer once more. " * 40)
        for i in range(args.letters):
            known = rng.random() < 0.4
            other = rng.choice(clients) if known else f"x{rng.randrange(5000)}@elsewhere.test"
            at = start + dt.timedelta(minutes=37 * i)
            outgoing = rng.random() < 0.3
            reply_to = f"<b{i - 1}@bench.test>" if i and rng.random() < 0.5 else None
            atts = (
                [("offer.pdf", os.urandom(20_000), "application/pdf")]
                if rng.random() < 0.03
                else []
            )
            raw = letter(
                "m1@firm.test" if outgoing else other,
                other if outgoing else "m1@firm.test",
                f"Re: Order {i // 3}" if reply_to else f"Order {i // 3}",
                body,
                msgid=f"<b{i}@bench.test>",
                in_reply_to=reply_to,
                references=reply_to,
                date=at,
                attachments=atts,
            )
            (sent if outgoing else inbox).append(raw)
        from funnelwatch.mail.tests.conftest import Dovecot

        server = Dovecot("127.0.0.1", port, tmp)
        t = time.perf_counter()
        server.append_many("bench", inbox, "INBOX")
        server.append_many("bench", sent, "Sent")
        print(f"delivered {args.letters} letters by IMAP APPEND in {time.perf_counter() - t:.1f} s")

        box = services.add_mailbox(
            actor=None,
            user=manager,
            host="127.0.0.1",
            port=port,
            login="bench",
            password=PASSWORD,
            security=Security.NONE,
            folders="INBOX,Sent",
        )
        t = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            first = prof.runcall(sync_mailbox, box)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        else:
            first = sync_mailbox(box)
        first_s = time.perf_counter() - t
        print(
            f"first sync: {first_s:.1f} s  fetched={first.fetched} failed={first.failed} "
            f"errors={first.errors[:3]}"
        )
        times = []
        for _ in range(5):
            t = time.perf_counter()
            again = sync_mailbox(box)
            times.append(time.perf_counter() - t)
            assert again.fetched == 0 and again.failed == 0, again
        print(
            f"incremental sync, nothing new: best {min(times) * 1000:.0f} ms, "
            f"worst {max(times) * 1000:.0f} ms (5 runs)"
        )
        matched = Message.objects.filter(contact__isnull=False).count()
        print(
            f"stored {Message.objects.count()} letters, {matched} matched to contacts, "
            f"{Message.objects.values('thread').distinct().count()} threads"
        )
        ok = first_s < 120 and max(times) < 1.0
        print("targets (first < 120 s, incremental < 1 s):", "MET" if ok else "MISSED")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
