from __future__ import annotations

from pathlib import Path

from django_tasks import task


@task()
def touch(path: str) -> None:
    Path(path).write_text("done")


@task()
def append_line(path: str, line: str) -> None:
    # O_APPEND writes of one short line are atomic, so concurrent workers do not interleave.
    with open(path, "a") as fh:
        fh.write(line + "\n")
