"""Unanswered client letters found by the database agree with walking each thread."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from itertools import count

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelwatch.crm import services as crm
from funnelwatch.mail import metrics
from funnelwatch.mail.models import Direction, Message

NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
ids = count()

letter = st.tuples(
    st.integers(0, 3),  # thread
    st.booleans(),  # from the client
    st.integers(0, 40 * 24),  # hours before now (some beyond the 30-day look-back)
    st.integers(0, 2),  # owner: alice, bob, none
    st.booleans(),  # from a CRM contact
    st.booleans(),  # archived
)


def _walked(now, manager_ids):
    """The thread walk: what _unanswered answers, read letter by letter."""
    cutoff = now - dt.timedelta(hours=django_settings.FUNNELWATCH_MAIL_UNANSWERED_HOURS)
    recent = Message.objects.filter(
        direction=Direction.IN,
        contact__isnull=False,
        owner__isnull=False,
        archived_at__isnull=True,
        sent_at__gte=now - metrics.LOOKBACK,
        sent_at__lt=cutoff,
    )
    if manager_ids is not None:
        recent = recent.filter(owner_id__in=manager_ids)
    threads = set(recent.values_list("thread", flat=True))
    return [
        (owner, pk)
        for owner, since, answered, pk in metrics._waits(threads, now)
        if answered is None
        and owner is not None
        and since < cutoff
        and (manager_ids is None or owner in manager_ids)
    ]


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(letters=st.lists(letter, max_size=25))
def test_unanswered_letters_are_the_thread_walks_answer(world, letters):
    # Letters cannot be deleted: earlier examples stay, and both answers must cover them too.
    client = crm.create_contact(actor=world.alice, name="C", owner=world.alice)
    owners = [world.alice.pk, world.bob.pk, None]
    for thread, incoming, hours, owner, known, archived in letters:
        n = next(ids)
        sent = NOW - dt.timedelta(hours=hours)
        Message.objects.create(
            message_id=f"<{n}@t>",
            thread=f"t{thread}",
            subject="s",
            direction=Direction.IN if incoming else Direction.OUT,
            from_addr="c@x.test",
            to_addrs="m@firm.test",
            sent_at=sent,
            owner_id=owners[owner],
            contact=client if known else None,
            archived_at=sent if archived else None,
        )
    for scope in (None, {world.alice.pk}):
        walked = _walked(NOW, scope)
        assert sorted(metrics._unanswered(NOW, scope)) == sorted(walked)
        assert metrics._unanswered_counts(NOW, scope) == Counter(owner for owner, _pk in walked)
