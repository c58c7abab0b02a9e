"""Who sees which hand-off requests.

- head, admin, quality reviewer: every request;
- team leads and managers: the requests on deals they may see, and those they made;
- anyone who is a member or the head of a department (department staff above all):
  the requests addressed to that department, with the basics of the deal they are on.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import visible_user_ids
from funnelwatch.handoffs.models import Department, Handoff


def departments_of(user: User) -> QuerySet[Department]:
    """The departments whose requests ``user`` works on (member or head)."""
    if not user.is_authenticated:
        return Department.objects.none()
    return Department.objects.filter(Q(members=user) | Q(head=user)).distinct()


def requests_for(user: User) -> QuerySet[Handoff]:
    qs = Handoff.objects.select_related("deal", "department", "requester", "assignee")
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    ids = visible_user_ids(user)
    if ids is None:
        return qs
    mine = Q(department__in=departments_of(user))
    return qs.filter(mine | Q(deal__owner__in=ids) | Q(requester__in=ids)).distinct()


def is_department_head(user: User) -> bool:
    return user.is_authenticated and Department.objects.filter(head=user).exists()
