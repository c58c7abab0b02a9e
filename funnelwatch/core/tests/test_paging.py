from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from funnelwatch.accounts.models import User
from funnelwatch.core.paging import BoundedPaginator


def test_below_the_limit_it_is_the_plain_paginator(world):
    users = User.objects.order_by("pk")
    bounded, plain = BoundedPaginator(users, 2, limit=100), Paginator(users, 2)
    assert (bounded.count, bounded.num_pages, bounded.more) == (plain.count, plain.num_pages, False)
    assert list(bounded.get_page(2)) == list(plain.get_page(2))


def test_counts_at_most_the_limit(world):
    users = User.objects.exclude(pk=world.clerk.pk).order_by("pk")
    assert users.count() == 6
    bounded = BoundedPaginator(users, 2, limit=3)
    with CaptureQueriesContext(connection) as ctx:
        assert bounded.count == 3 and bounded.more
    (count,) = ctx.captured_queries
    assert "LIMIT" in count["sql"].upper() and "ORDER BY" not in count["sql"].upper()
    assert bounded.num_pages == 2
    assert list(bounded.get_page(9)) == list(users[2:3])  # ends at the last counted row
    exact = BoundedPaginator(users, 2, limit=6)
    assert exact.count == 6 and not exact.more


def test_pager_says_when_there_are_more(world):
    request = RequestFactory().get("/")
    users = User.objects.exclude(pk=world.clerk.pk).order_by("pk")
    more = render_to_string(
        "core/pager.html", {"page": BoundedPaginator(users, 2, limit=3).get_page(1)}, request
    )
    assert "Page 1 of more than 2" in more
    exact = render_to_string(
        "core/pager.html", {"page": BoundedPaginator(users, 2).get_page(1)}, request
    )
    assert "Page 1 of 3" in exact and "more than" not in exact
