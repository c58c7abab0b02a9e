"""The demo's question bank, two tests taken over the last two months (one open answer of
each waiting for the reviewer), one due next week, and two mystery-shopper calls."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from funnelwatch.core.demo import DemoContext
from funnelwatch.skills import services
from funnelwatch.skills.models import Attempt, Kind

# Texts are written in the demo's language: marked here, translated when generated.
BANK = [
    (
        "product",
        "single",
        gettext_noop("How long is the warranty on our equipment?"),
        gettext_noop("1 year\n*2 years\n3 years"),
        1,
    ),
    (
        "product",
        "multiple",
        gettext_noop("Which are included in the standard installation?"),
        gettext_noop("*Delivery\n*Set-up\nStaff training for a year"),
        2,
    ),
    (
        "product",
        "open",
        gettext_noop("Name two things that set us apart from the cheapest competitor."),
        "",
        3,
    ),
    (
        "scripts",
        "single",
        gettext_noop("What comes first in a cold call?"),
        gettext_noop("*Your name and the company\nThe price\nA discount"),
        1,
    ),
    (
        "scripts",
        "multiple",
        gettext_noop("Which questions find the client's needs?"),
        gettext_noop(
            "*What do you use now?\n*What does it cost you a month?\nShall I send the contract?"
        ),
        2,
    ),
    (
        "objections",
        "single",
        gettext_noop("“It is too expensive.” The first step:"),
        gettext_noop("Offer a discount\n*Ask what it is compared with"),
        1,
    ),
    (
        "objections",
        "multiple",
        gettext_noop("“We already have a supplier.” Good answers:"),
        gettext_noop("*Ask what they would improve\n*Offer a test order\nSay the supplier is bad"),
        2,
    ),
    (
        "objections",
        "open",
        gettext_noop("“Send me an offer and I will think.” What do you say?"),
        "",
        3,
    ),
]


def generate(ctx: DemoContext) -> None:
    from funnelwatch.quality.models import Review

    rng = ctx.rng_for("skills")
    head = ctx.users["head"]
    reviewer = ctx.users.get("reviewer") or head
    questions = [
        services.create_question(
            topic=t,
            kind=k,
            text=_(text),
            options=_(opts) if opts else "",
            points=points,
            by=reviewer,
        )
        for t, k, text, opts, points in BANK
    ]
    ids = [str(q.pk) for q in questions]
    first = services.create_test(
        title=_("Product and objections"), pass_pct=70, question_ids=ids, by=head
    )
    second = services.create_test(
        title=_("Scripts refresher"), pass_pct=70, question_ids=ids[3:6], by=head
    )
    today = timezone.localdate(ctx.now)
    managers = list(ctx.managers)
    rounds = [
        (first, today - dt.timedelta(days=40)),
        (first, today - dt.timedelta(days=10)),
    ]
    taken = 0
    for round_no, (test, due) in enumerate(rounds):
        for item in services.assign(test=test, managers=managers, due_date=due, by=head):
            answers = {}
            for q in test.questions.all():
                # Better on the second round; some managers weaker on objections.
                good = rng.random() < (0.55 + 0.25 * round_no)
                if q.kind == Kind.OPEN:
                    answers[q.pk] = {
                        "text": _("Ask what matters most and compare the cost of a year.")
                    }
                elif good:
                    answers[q.pk] = {"chosen": sorted(q.correct)}
                else:
                    wrong = [i for i in range(len(q.options)) if i not in q.correct]
                    answers[q.pk] = {"chosen": wrong[:1]}
            attempt = services.submit(item, item.manager, answers)
            submitted = timezone.make_aware(
                dt.datetime.combine(item.due_date - dt.timedelta(days=1), dt.time(11))
            )
            Attempt.objects.filter(pk=attempt.pk).update(submitted_at=submitted)
            # The reviewer grades all but the last manager's latest open answers.
            if round_no == 0 or item.manager != managers[-1]:
                grades = {
                    a.pk: str(rng.choice([1, 2, 3]))
                    for a in attempt.answers.filter(question__kind=Kind.OPEN)
                }
                services.grade(attempt, reviewer, grades)
            taken += 1
    services.assign(test=second, managers=managers, due_date=today + dt.timedelta(days=7), by=head)
    # Two reviewed calls were a mystery shopper's.
    marked = 0
    for review in Review.objects.select_related("call").order_by("-created_at")[:40:20]:
        services.mark_mystery(review.call, reviewer, _("Mystery shopper: asked for a price list"))
        marked += 1
    ctx.notes.append(
        f"skills: {len(questions)} questions, {taken} tests taken, {marked} mystery calls"
    )
