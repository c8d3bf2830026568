"""Progress bars for long steps, drawn on stderr only when it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def steps(description: str, total: int) -> Iterator[Progress | None]:
    """A rich Progress with one task of ``total`` steps, or None when stderr is not a terminal.

    Pipes, CI logs and test captures get no control characters; callers advance with
    ``advance(progress, text)``, which is a no-op on None.
    """
    if not sys.stderr.isatty():
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        progress.add_task(description, total=total)
        yield progress


def advance(progress: Progress | None, description: str | None = None) -> None:
    """One step done; ``description`` names the next one."""
    if progress is None:
        return
    task = progress.task_ids[0]
    progress.update(task, advance=1, **({"description": description} if description else {}))


def track(iterable, description: str, total: int | None = None):
    """``iterable`` with a progress bar on a terminal stderr, as it is otherwise."""
    if not sys.stderr.isatty():
        return iterable
    from rich.progress import track as rich_track

    return rich_track(iterable, description=description, total=total, console=Console(stderr=True))
