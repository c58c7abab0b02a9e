"""The main menu: apps add their pages here from ``AppConfig.ready``."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str  # gettext_lazy
    url_name: str
    order: int = 100
    # Only these roles see the item (None: everyone of the sales department; department
    # staff, who see only their requests, get the items that name their role).
    roles: tuple[str, ...] | None = None


_ITEMS: list[NavItem] = []

# Roles outside the sales department (accounting, warehouse…: ``Role.DEPARTMENT``).
OUTSIDE_SALES = ("department",)


def add(label: str, url_name: str, order: int = 100, roles: tuple[str, ...] | None = None) -> None:
    if all(item.url_name != url_name for item in _ITEMS):
        _ITEMS.append(NavItem(label, url_name, order, roles))


def items_for(user, current_path: str) -> list[dict]:
    out = []
    for item in sorted(_ITEMS, key=lambda i: i.order):
        if item.roles is not None and not user.is_superuser and user.role not in item.roles:
            continue
        if item.roles is None and user.role in OUTSIDE_SALES and not user.is_superuser:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        out.append({"label": item.label, "url": url, "active": False})
    # The page's own item: the longest address the path starts with (Key numbers,
    # /metrics/, is not also lit on the funnel, /metrics/funnel/).
    mine = max(
        (entry for entry in out if current_path.startswith(entry["url"])),
        key=lambda entry: len(entry["url"]),
        default=None,
    )
    if mine is not None:
        mine["active"] = True
    return out
