"""Print the metric catalogue (every registered metric) as the Markdown table of
docs/metrics.md: ``python scripts/metrics_catalog.py``."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")


def main() -> None:
    import django

    django.setup()
    from django.utils import translation

    from funnelwatch.metrics import registry

    translation.activate("en")
    print("| key | block | label | unit | kind | good | defined in |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for m in registry.all_metrics():
        module = inspect.getmodule(m.compute) or inspect.getmodule(m.period_values)
        app = (
            module.__name__.removeprefix("funnelwatch.").removesuffix(".metrics") if module else ""
        )
        label = str(m.label).replace("|", "/")
        print(f"| `{m.key}` | {m.block} | {label} | {m.unit} | {m.kind} | {m.good} | `{app}` |")


if __name__ == "__main__":
    main()
