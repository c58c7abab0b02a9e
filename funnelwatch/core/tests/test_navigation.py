"""The menu lights one item: the page's own (it lit "Key numbers" on the funnel page too,
and "Alerts" on the morning meeting, as their addresses start with /metrics/, /alerts/)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from funnelwatch.core import navigation


@pytest.mark.parametrize(
    ("path", "lit"),
    [
        ("/metrics/", "metrics:key_numbers"),
        ("/metrics/funnel/", "metrics:funnel"),
        ("/metrics/records/won_count/", "metrics:key_numbers"),
        ("/alerts/morning/", "alerts:morning"),
        ("/alerts/", "alerts:list"),
        ("/quality/library/", "quality:library"),
        ("/crm/deals/12/", "crm:deals"),
    ],
)
def test_one_item_is_lit_the_pages_own(world, path, lit):
    items = navigation.items_for(world.head, path)
    assert [item["url"] for item in items if item["active"]] == [reverse(lit)]


def test_nothing_is_lit_off_the_menu(world):
    assert not any(item["active"] for item in navigation.items_for(world.head, "/login/"))
