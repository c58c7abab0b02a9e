"""Test fixtures shared by every app (loaded from the root conftest.py)."""

from __future__ import annotations

import datetime as dt
import shutil
from types import SimpleNamespace
from urllib.parse import urlsplit

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
    settings.FUNNELWATCH_LIVE_METRICS_CACHE_SECONDS = 0
    # Rollup answers are reused under day tokens that a test's rollback takes away: start
    # every test with none (the reuse itself stays on, so every test exercises it).
    from django.core.cache import cache

    from funnelwatch.metrics import engine

    cache.clear()
    engine.forget_answers()
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # A webhook's answer names the call it made; tests of the queue (the default) set it.
    settings.FUNNELWATCH_WEBHOOK_MODE = "sync"


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
    """head, lead (of team North), alice (North), bob (South), reviewer, outsider (no team),
    clerk (department staff: accounting and the like, outside the sales department)."""
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
    clerk = user("clerk", Role.DEPARTMENT)
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
        clerk=clerk,
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


class BrowserProblems:
    """What went wrong in the browser while a test drove it: a response of 400 or more
    (the page or anything it loads: a stylesheet, a script, an htmx fragment), a request
    that failed or went anywhere but the test server, an error on the console, an
    uncaught exception. A page can look right to a test and still have all of these."""

    LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})

    def __init__(self, page) -> None:
        self.page = page
        self.found: list[str] = []
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)
        page.on("console", self._console)
        page.on("pageerror", self._error)

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in (
            self.LOCAL_HOSTS
        ):
            self.found.append(f"request left the server: {request.method} {request.url}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.found.append(f"{response.status} {response.request.method} {response.url}")

    def _failed(self, request) -> None:
        if request.failure == "net::ERR_ABORTED":
            # The browser dropped it (the page went on to the next one, a player had what
            # it needed): nothing failed. Whatever the server answered is checked above.
            return
        self.found.append(f"failed: {request.method} {request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type == "error":
            self.found.append(f"console error: {message.text} ({message.location.get('url')})")

    def _error(self, error) -> None:
        self.found.append(f"page error: {error}")

    def take(self) -> list[str]:
        """The problems so far (events still on their way included); the list starts over."""
        if not self.page.is_closed():
            self.page.evaluate("0")  # a round trip: the browser's pending events arrive
        found, self.found = self.found, []
        return found


@pytest.fixture(autouse=True)
def browser_problems(request):
    """Every test that drives a browser (uses ``page``) fails on what ``BrowserProblems``
    finds; a test may ``take()`` them itself to say on which page they were."""
    from playwright.sync_api import Page

    page = request.getfixturevalue("page") if "page" in request.fixturenames else None
    if not isinstance(page, Page):  # no browser, or a test parameter that is called page
        yield None
        return
    problems = BrowserProblems(page)
    yield problems
    left = problems.take()
    assert not left, "the browser met problems:\n" + "\n".join(left)
