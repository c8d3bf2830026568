"""The one way the in-process measurements time a step: median CPU and wall ms over repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_ms(
    fn: Callable[..., Any],
    repeats: int,
    clock: Callable[[], float],
    setup: Callable[[], Any] | None = None,
) -> tuple[float, float]:
    """Median (CPU ms by ``clock``, wall ms) of ``fn(setup())`` over ``repeats`` runs, after one.

    Without ``setup``, ``fn()`` is timed. The first run pays lazy imports and allocations and is
    left out.
    """
    cpu, wall = [], []
    for i in range(repeats + 1):
        arg = setup() if setup else None
        c0, w0 = clock(), time.perf_counter()
        fn(arg) if setup else fn()
        c1, w1 = clock(), time.perf_counter()
        if i:
            cpu.append((c1 - c0) * 1000.0)
            wall.append((w1 - w0) * 1000.0)
    return statistics.median(cpu), statistics.median(wall)
