"""E-mails for the benchmark department: threads between managers and their clients,
half of them letters from the client and half the manager's answers."""

from __future__ import annotations

import numpy as np
from django.apps import apps


def generate(world, rng: np.random.Generator, total: int, deals_total: int) -> int:
    from bench.generate import CHUNK, _put, _ts, _work_moments

    message = apps.get_model("mail", "Message")
    written = 0
    for offset in range(0, total, CHUNK):
        n = min(CHUNK, total - offset)
        owner = world.managers[rng.integers(0, len(world.managers), n)]
        deal = rng.integers(1, deals_total + 1, n)
        sent = _work_moments(rng, world, n)
        incoming = rng.random(n) < 0.5
        ids = range(offset, offset + n)
        sent_s = _ts(sent)
        clients = [f"client{d}@example.test" for d in deal.tolist()]
        managers = [f"m{m}@firm.test" for m in owner.tolist()]
        written += _put(
            message,
            [
                "message_id",
                "thread",
                "subject",
                "direction",
                "from_addr",
                "to_addrs",
                "sent_at",
                "owner_id",
                "contact_id",
                "deal_id",
                "text_body",
                "created_at",
            ],
            [
                [f"<bench-{i}@example.test>" for i in ids],
                [f"deal-{d}" for d in deal.tolist()],
                [f"Re: deal {d}" for d in deal.tolist()],
                np.where(incoming, "in", "out").tolist(),
                [c if inc else m for c, m, inc in zip(clients, managers, incoming, strict=True)],
                [m if inc else c for c, m, inc in zip(clients, managers, incoming, strict=True)],
                sent_s,
                owner.tolist(),
                deal.tolist(),
                deal.tolist(),
                ["Hello, about our offer."] * n,
                sent_s,
            ],
        )
    return written
