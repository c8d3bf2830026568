"""How many predict requests a worker holds at once: past the cap, a 503 at once, not a queue."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app.errors import Overloaded


class InFlightLimit:
    """Admits at most ``limit`` requests at a time and refuses the next without waiting.

    Requests beyond the cap would otherwise wait in gunicorn's thread pool, unanswered, until a
    client or balancer times out; and threads kept free answer health probes under any load.
    """

    def __init__(self, limit: int, *, retry_after_s: int) -> None:
        if limit < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {limit}")
        self.limit = limit
        self._retry_after_s = retry_after_s
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one slot for the block; Overloaded (503 with Retry-After) when none is free."""
        if not self._slots.acquire(blocking=False):
            raise Overloaded(
                f"this worker already holds {self.limit} requests; retry shortly",
                retry_after_s=self._retry_after_s,
            )
        try:
            yield
        finally:
            self._slots.release()
