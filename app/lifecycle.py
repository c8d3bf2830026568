"""Where a worker is in its life (loading, ready, draining) and its models once they are loaded.

The health routes read this and nothing else, so they answer from the worker's first second:
a probe never waits on a model load.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.errors import Loading

if TYPE_CHECKING:
    from app.model.registry import ModelRegistry

log = logging.getLogger(__name__)

LOADING, READY, DRAINING = "loading", "ready", "draining"


class Lifecycle:
    """The worker's state, flipped by the loader thread and by SIGTERM, read by every request."""

    def __init__(self, *, retry_after_s: int, drain_delay_s: float) -> None:
        self.retry_after_s = retry_after_s
        self.drain_delay_s = drain_delay_s
        self._registry: ModelRegistry | None = None
        self._ready = threading.Event()
        self._draining = threading.Event()

    @property
    def status(self) -> str:
        """loading until every model is loaded and warmed, then ready; draining after SIGTERM."""
        if self._draining.is_set():
            return DRAINING
        return READY if self._ready.is_set() else LOADING

    def registry(self, *, ready: bool = True) -> ModelRegistry:
        """The registry; Loading (503) until ready, or with ``ready=False`` until loaded."""
        if self._registry is None or (ready and not self._ready.is_set()):
            raise Loading(
                "models are still loading; retry shortly", retry_after_s=self.retry_after_s
            )
        return self._registry

    def set_loaded(self, registry: ModelRegistry) -> None:
        self._registry = registry

    def set_ready(self) -> None:
        self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until ready; for tests and scripts."""
        return self._ready.wait(timeout)

    def start_draining(self) -> bool:
        """Readiness turns 503 from now on; False when already draining."""
        if self._draining.is_set():
            return False
        self._draining.set()
        return True

    def close(self) -> None:
        """Let every batcher finish the rows it holds."""
        if self._registry is not None:
            self._registry.close()


def load_in_background(
    load: Callable[[], None], on_failure: Callable[[BaseException], None]
) -> threading.Thread:
    """Run ``load`` in a thread; a failure goes to ``on_failure`` (which should end the process)."""

    def run() -> None:
        try:
            load()
        except BaseException as exc:  # noqa: BLE001 - any failure to start must stop the worker
            on_failure(exc)

    thread = threading.Thread(target=run, name="model-loader", daemon=True)
    thread.start()
    return thread
