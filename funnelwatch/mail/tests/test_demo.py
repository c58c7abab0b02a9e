"""The demo part: letter threads on deals, proposals sent by e-mail, fast bulk writes."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from funnelwatch.core.demo import DemoContext
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Proposal
from funnelwatch.mail import demo
from funnelwatch.mail.models import Mailbox, Message

pytestmark = pytest.mark.django_db


def test_generate_threads_and_proposals(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    now = timezone.now()
    for i in range(30):
        owner = world.alice if i % 2 else world.bob
        contact = crm.create_contact(actor=owner, name=f"C{i}", owner=owner)
        deal = crm.create_lead(
            actor=owner, title=f"D{i}", owner=owner, contact=contact, at=now - dt.timedelta(days=20)
        )
        if i % 3 == 0:
            crm.move_stage(
                deal, world.stages["Proposal sent"], actor=owner, at=now - dt.timedelta(days=15)
            )
    ctx = DemoContext(
        seed=1,
        months=1,
        managers_count=2,
        rng=random.Random(1),
        now=now,
        start=now - dt.timedelta(days=30),
        users={u.username: u for u in [world.head, world.alice, world.bob]},
        managers=[world.alice, world.bob],
    )

    demo.generate(ctx)

    assert Mailbox.objects.filter(is_shared_bcc=True).count() == 1
    assert Mailbox.objects.filter(is_shared_bcc=False).count() == 2
    letters = Message.objects.all()
    assert letters.count() > 20
    assert letters.filter(deal__isnull=False).values("deal").distinct().count() > 5
    assert all(m.sent_at <= now for m in letters)
    kp = letters.filter(proposal__isnull=False)
    assert kp.exists() and Proposal.objects.filter(mail_message__isnull=False).count() == kp.count()
    assert ctx.planted["mail_unanswered_manager"] == "bob"
    assert any("E-mail:" in n for n in ctx.notes)
