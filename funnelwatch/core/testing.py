"""Test fixtures shared by every app (loaded from the root conftest.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from types import SimpleNamespace

import pytest
from django.utils import timezone

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Hashing passwords properly costs ~0.3 s a user; tests create many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests change records and read "now" metrics at once: no reuse of earlier answers.
    from funnelwatch.metrics import conf as metrics_conf

    metrics_conf.LIVE_CACHE_SECONDS = 0
    # Rollup answers are reused under day tokens that a test's rollback takes away: start
    # every test with none (the reuse itself stays on, so every test exercises it).
    from django.core.cache import cache

    from funnelwatch.metrics import engine

    cache.clear()
    engine.forget_answers()
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def make_pipeline():
    from funnelwatch.crm.models import Block, Outcome, Pipeline, Stage

    pipeline = Pipeline.objects.create(name="Sales", is_default=True)
    rows = [
        ("New lead", Block.INTAKE, Outcome.OPEN, 1),
        ("Qualified", Block.INTAKE, Outcome.OPEN, 3),
        ("Proposal sent", Block.PROPOSAL, Outcome.OPEN, 5),
        ("Objections", Block.OBJECTIONS, Outcome.OPEN, 7),
        ("Contract", Block.CLOSING, Outcome.OPEN, 5),
        ("Won", Block.CLOSING, Outcome.WON, None),
        ("Lost", Block.CLOSING, Outcome.LOST, None),
        ("Junk", Block.INTAKE, Outcome.JUNK, None),
    ]
    stages = {}
    for pos, (name, block, outcome, norm) in enumerate(rows, start=1):
        stages[name] = Stage.objects.create(
            pipeline=pipeline, name=name, position=pos, block=block, outcome=outcome, norm_days=norm
        )
    return pipeline, stages


@pytest.fixture
def world(db):
    """head, lead (of team North), alice (North), bob (South), reviewer, outsider (no team)."""
    from funnelwatch.accounts.models import Extension, Role, Team, User, UserEmail
    from funnelwatch.crm.models import JunkReason, LeadSource, LostReason

    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")

    def user(username, role, team=None):
        u = User.objects.create_user(
            username,
            f"{username}@firm.test",
            "pw-" + username,
            role=role,
            team=team,
            first_name=username.title(),
        )
        return u

    head = user("head", Role.HEAD)
    lead = user("lead", Role.TEAM_LEAD, north)
    north.lead = lead
    north.save()
    alice = user("alice", Role.MANAGER, north)
    bob = user("bob", Role.MANAGER, south)
    reviewer = user("reviewer", Role.REVIEWER)
    outsider = user("outsider", Role.MANAGER)
    Extension.objects.create(user=alice, number="101")
    Extension.objects.create(user=bob, number="102")
    UserEmail.objects.create(user=alice, email="alice@firm.test")
    UserEmail.objects.create(user=bob, email="bob@firm.test")
    pipeline, stages = make_pipeline()
    return SimpleNamespace(
        head=head,
        lead=lead,
        alice=alice,
        bob=bob,
        reviewer=reviewer,
        outsider=outsider,
        north=north,
        south=south,
        pipeline=pipeline,
        stages=stages,
        lost_reason=LostReason.objects.create(name="Too expensive", revivable=True),
        junk_reason=JunkReason.objects.create(name="Wrong number"),
        source=LeadSource.objects.create(name="Website"),
    )


@pytest.fixture
def at():
    """Aware datetimes in the company's time zone: at(2026, 3, 2, 10) -> 10:00 local."""

    def make(*args: int) -> dt.datetime:
        return dt.datetime(*args, tzinfo=timezone.get_current_timezone())

    return make


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
