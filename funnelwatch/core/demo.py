"""The demo department: ``funnelwatch demo`` builds it, each app adds its part.

The CRM part (users, teams, deals and their histories) runs first; then every app
that has a ``demo`` module with ``generate(ctx: DemoContext)`` is called in
INSTALLED_APPS order, and may add to ``ctx.planted`` (the problems a visitor should
find) and ``ctx.notes`` (lines printed at the end).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps


@dataclass
class DemoContext:
    seed: int
    months: int
    managers_count: int
    rng: random.Random
    now: dt.datetime
    start: dt.datetime
    users: dict[str, object] = field(default_factory=dict)  # username -> User
    managers: list = field(default_factory=list)  # User objects with role manager
    logins: list[dict] = field(default_factory=list)  # {"username", "password", "role"}
    planted: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    password: str = "demo"
    language: str = "en"  # names, stages, reasons... are written in this language
    # Calls the CRM part's story needs (first calls, a call before each step):
    # (manager id, deal id, client number, moment, talk seconds); the telephony part
    # places them among the day's other calls.
    call_plan: list[tuple] = field(default_factory=list)

    def rng_for(self, name: str) -> random.Random:
        """A generator of its own per part, so adding one part does not reshuffle another."""
        return random.Random(f"{self.seed}:{name}")


def app_generators() -> list:
    out = []
    for config in apps.get_app_configs():
        if not config.name.startswith("funnelwatch.") or config.label == "crm":
            continue
        module_name = f"{config.name}.demo"
        if find_spec(module_name) is not None:
            module = import_module(module_name)
            if hasattr(module, "generate"):
                out.append(module.generate)
    return out
