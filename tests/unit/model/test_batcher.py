"""DynamicBatcher: batches across threads, slices results back, refuses when full."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app.errors import QueueFull
from app.model.batcher import DynamicBatcher
from app.settings import BatchingSettings


class Recorder:
    """A stand-in model computing x*2, recording the batch sizes it was called with."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.sizes: list[int] = []
        self.gate = gate

    def __call__(self, batch):
        if self.gate:
            self.gate.wait(10)
        self.sizes.append(len(batch["x"]))
        return {"y": batch["x"] * 2}


def test_rows_from_many_threads_share_batches_and_get_their_own_slice():
    model = Recorder()
    batcher = DynamicBatcher(model, BatchingSettings(8, 20.0, 100), name="t")
    with ThreadPoolExecutor(16) as pool:
        outs = list(
            pool.map(
                lambda i: batcher.submit({"x": np.full(3, i, np.float32)}).result(5), range(64)
            )
        )
    batcher.close()
    assert [o["y"].tolist() for o in outs] == [[2.0 * i] * 3 for i in range(64)]
    assert sum(model.sizes) == 64 and max(model.sizes) <= 8
    assert len(model.sizes) < 64  # some rows really were batched together


def test_timings_are_reported():
    batcher = DynamicBatcher(Recorder(), BatchingSettings(4, 1.0, 10), name="t")
    row = batcher.submit({"x": np.zeros(1, np.float32)})
    row.result(5)
    batcher.close()
    assert row.queue_ms >= 0 and row.inference_ms > 0


def test_full_queue_refuses_at_once():
    gate = threading.Event()
    batcher = DynamicBatcher(Recorder(gate), BatchingSettings(1, 0.0, 2), name="t")
    held = [batcher.submit({"x": np.zeros(1)})]
    with pytest.raises(QueueFull) as info:
        for _ in range(10):
            held.append(batcher.submit({"x": np.zeros(1)}))
    assert info.value.status == 503 and info.value.headers["Retry-After"] == "1"
    gate.set()
    assert all(p.result(5)["y"].shape == (1,) for p in held)
    batcher.close()


def test_a_failing_batch_fails_its_rows_only():
    calls = []

    def flaky(batch):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"y": batch["x"]}

    batcher = DynamicBatcher(flaky, BatchingSettings(1, 0.0, 10), name="t")
    with pytest.raises(RuntimeError, match="boom"):
        batcher.submit({"x": np.zeros(1)}).result(5)
    assert batcher.submit({"x": np.ones(1)}).result(5)["y"].tolist() == [1.0]
    batcher.close()


def test_lone_row_does_not_wait_for_the_delay():
    batcher = DynamicBatcher(Recorder(), BatchingSettings(8, 5000.0, 10), name="t")
    started = time.perf_counter()
    batcher.submit({"x": np.zeros(1)}).result(10)
    assert time.perf_counter() - started < 2.5  # far below the 5 s max_delay_ms
    batcher.close()


def test_announced_rows_are_waited_for():
    model = Recorder()
    batcher = DynamicBatcher(model, BatchingSettings(8, 5000.0, 10), name="t")
    with batcher.incoming(2) as submit:
        first = submit({"x": np.zeros(1)})
        time.sleep(0.2)  # the second row is still "preprocessing"
        second = submit({"x": np.ones(1)})
    assert first.result(10)["y"].tolist() == [0.0] and second.result(10)["y"].tolist() == [2.0]
    assert model.sizes == [2]
    batcher.close()


def test_cancelled_rows_are_dropped_not_run():
    gate = threading.Event()
    model = Recorder(gate)
    batcher = DynamicBatcher(model, BatchingSettings(4, 1.0, 100), name="t")
    first = batcher.submit({"x": np.zeros(3, np.float32)})  # holds the model behind the gate
    time.sleep(0.1)
    late = [batcher.submit({"x": np.ones(3, np.float32)}) for _ in range(3)]
    kept = batcher.submit({"x": np.full(3, 2, np.float32)})
    for row in late:
        row.cancel()
    gate.set()
    assert first.result(5)["y"].tolist() == [0, 0, 0]
    assert kept.result(5)["y"].tolist() == [4, 4, 4]
    batcher.close()
    assert model.sizes == [1, 1]  # the three cancelled rows never reached the model
