"""Dynamic batching: request threads enqueue one row each; one thread runs them in batches."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from app.errors import DeadlineExceeded, QueueFull
from app.settings import BatchingSettings

if TYPE_CHECKING:
    from app.observability.metrics import ModelMetrics

log = logging.getLogger(__name__)

Features = dict[str, np.ndarray]
RunBatch = Callable[[Features], Features]


@dataclass
class Pending:
    """One row waiting for its slice of a batch's outputs."""

    features: Features
    enqueued: float = field(default_factory=time.perf_counter)
    done: threading.Event = field(default_factory=threading.Event)
    outputs: Features | None = None
    error: BaseException | None = None
    queue_ms: float = 0.0
    inference_ms: float = 0.0
    cancelled: bool = False

    def result(self, timeout: float) -> Features:
        """The row's outputs; ``DeadlineExceeded`` (503) if not there within ``timeout``."""
        if not self.done.wait(max(timeout, 0.0)):
            raise DeadlineExceeded(
                "the request did not finish within its deadline; its work was dropped"
            )
        if self.error is not None:
            raise self.error
        assert self.outputs is not None
        return self.outputs

    def cancel(self) -> None:
        """Nobody waits for this row any more; a batch not yet formed leaves it out."""
        self.cancelled = True


class DynamicBatcher:
    """Groups rows from many threads into one model call of at most ``max_batch_size`` rows."""

    def __init__(
        self,
        run_batch: RunBatch,
        settings: BatchingSettings,
        *,
        name: str,
        retry_after_s: int = 1,
        metrics: ModelMetrics | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._metrics = metrics
        self._max_batch = settings.max_batch_size
        self._max_delay = settings.max_delay_ms / 1000.0
        self._retry_after_s = retry_after_s
        self._queue: queue.Queue[Pending | None] = queue.Queue(settings.max_queue_size)
        self._lock = threading.Lock()
        self._incoming = 0
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def submit(self, features: Features) -> Pending:
        """Enqueue one row; raises ``QueueFull`` (503) at once when the queue is full."""
        pending = Pending(features)
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise QueueFull(
                "the inference queue is full; retry shortly", retry_after_s=self._retry_after_s
            ) from None
        self._observe_depth()
        return pending

    def close(self) -> None:
        """Finish the rows already queued, then stop the batching thread."""
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            self._observe_depth()
            batch = [row for row in batch if not row.cancelled]
            if batch:
                self._run(batch)
            if stop:
                return

    @contextmanager
    def incoming(self, rows: int = 1) -> Iterator[Callable[[Features], Pending]]:
        """Announce rows being preprocessed; yields the ``submit`` to send each of them with.

        The batching thread waits for stragglers only while announced rows are still on their
        way, so a lone request never pays ``max_delay_ms``.
        """
        left = [rows]
        self._add_incoming(rows)

        def submit(features: Features) -> Pending:
            left[0] -= 1
            self._add_incoming(-1)
            return self.submit(features)

        try:
            yield submit
        finally:
            self._add_incoming(-left[0])

    def _observe_depth(self) -> None:
        if self._metrics is not None:
            self._metrics.queue_depth(self._queue.qsize())

    def _add_incoming(self, rows: int) -> None:
        with self._lock:
            self._incoming += rows

    def _collect(self, first: Pending) -> tuple[list[Pending], bool]:
        batch = [first]
        deadline = time.perf_counter() + self._max_delay
        while len(batch) < self._max_batch:
            remaining = deadline - time.perf_counter()
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if remaining <= 0 or not self._incoming:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self, batch: list[Pending]) -> None:
        start = time.perf_counter()
        try:
            stacked = {
                name: np.stack([p.features[name] for p in batch]) for name in batch[0].features
            }
            outputs = self._run_batch(stacked)
            rows = [{name: value[i] for name, value in outputs.items()} for i in range(len(batch))]
        except Exception as exc:  # the batch fails as a whole; every waiting request learns why
            log.exception("batch of %d failed", len(batch))
            for pending in batch:
                pending.error = exc
                pending.done.set()
            return
        seconds = time.perf_counter() - start
        inference_ms = seconds * 1000.0
        if self._metrics is not None:
            self._metrics.batch_ran(len(batch), seconds, [start - p.enqueued for p in batch])
        for pending, row in zip(batch, rows, strict=True):
            pending.outputs = row
            pending.queue_ms = (start - pending.enqueued) * 1000.0
            pending.inference_ms = inference_ms
            pending.done.set()
