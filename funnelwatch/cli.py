"""The ``funnelwatch`` console script: Django's management commands under one name."""

from __future__ import annotations

import os
import sys


def run(argv: list[str]) -> None:
    """Django's command line, except that ``version`` is Funnelwatch's own command (Django
    answers ``version`` itself, with its own version, before looking at any command)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    from django.core.management import execute_from_command_line

    if argv[1:2] == ["version"]:
        import django
        from django.core.management import call_command

        django.setup()
        try:
            call_command(*argv[1:])
        except SystemExit:
            raise
        except Exception as exc:  # the same one-line error as any other command
            sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
            raise SystemExit(1) from None
        return
    execute_from_command_line(argv)


def main() -> None:
    run(["funnelwatch", *sys.argv[1:]])


if __name__ == "__main__":
    main()
