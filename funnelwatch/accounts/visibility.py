"""Who may see whose records: the one place the rule lives.

Every view, API endpoint and export narrows its querysets through these helpers, so
the rule is enforced once and not per template.
- head, admin and quality reviewer: everything;
- team lead: the members of the teams they lead (and their own records);
- manager: their own records;
- department staff (accounting, warehouse, legal): their own records, which are none in
  the CRM; they see the hand-off requests addressed to their departments
  (``funnelwatch.handoffs.queries``) and nothing else of the sales department.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from funnelwatch.accounts.models import Role, User


def visible_user_ids(user: User) -> set[int] | None:
    """Ids of users whose records ``user`` may see, or None for everyone."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.sees_everything:
        return None
    ids = {user.pk}
    if user.role == Role.TEAM_LEAD:
        ids |= set(User.objects.filter(team__lead=user).values_list("pk", flat=True))
        if user.team_id:
            ids |= set(User.objects.filter(team_id=user.team_id).values_list("pk", flat=True))
    return ids


def visible_users(user: User) -> QuerySet[User]:
    ids = visible_user_ids(user)
    users = User.objects.filter(is_active=True)
    return users if ids is None else users.filter(pk__in=ids)


def limit_to_owner(user: User, qs: QuerySet, field: str = "owner") -> QuerySet:
    """Narrow ``qs`` to rows whose ``field`` is a user ``user`` may see."""
    ids = visible_user_ids(user)
    if ids is None:
        return qs
    return qs.filter(**{f"{field}__in": ids})


def limit_by(user: User, qs: QuerySet, *fields: str) -> QuerySet:
    """Like limit_to_owner, allowing a row through when any of ``fields`` is visible."""
    ids = visible_user_ids(user)
    if ids is None:
        return qs
    cond = Q()
    for field in fields:
        cond |= Q(**{f"{field}__in": ids})
    return qs.filter(cond).distinct()


def can_see_user(viewer: User, other_id: int) -> bool:
    ids = visible_user_ids(viewer)
    return ids is None or other_id in ids


def may_change_crm(user: User) -> bool:
    """Quality reviewers read everything but change nothing in the CRM; department staff
    work on the requests addressed to them, not on deals."""
    return (
        user.is_authenticated
        and user.is_active
        and user.role not in (Role.REVIEWER, Role.DEPARTMENT)
    )


def crm_writer_required(view: Callable) -> Callable:
    """Refuse changes from roles that only read the CRM and its letters (quality reviewers)."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not may_change_crm(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return check
