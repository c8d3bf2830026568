"""Overload answers at once: the in-flight cap and the per-request deadline, both 503 JSON."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from app import create_app


@pytest.fixture
def held_app(settings):
    """An app whose batching thread waits on a gate, so requests pile up as under overload."""
    app = create_app(
        dataclasses.replace(
            settings, models=("tiny",), warmup=False, max_in_flight=2, request_timeout_s=0.5
        )
    )
    predictor = app.extensions["lifecycle"].registry().get("tiny")
    gate, run, ran = threading.Event(), predictor.batcher._run_batch, []

    def held(batch):
        gate.wait(30)
        ran.append(len(next(iter(batch.values()))))
        return run(batch)

    predictor.batcher._run_batch = held
    yield app, gate, ran
    gate.set()
    app.extensions["lifecycle"].close()


def test_deadline_gives_503_and_drops_the_work(held_app):
    app, gate, ran = held_app
    client = app.test_client()
    # The first row enters the held batch; the second waits in the queue behind it.
    for _ in range(2):
        started = time.monotonic()
        resp = client.post("/predict", json={"text": "cat"})
        assert resp.status_code == 503 and resp.json["error"]["code"] == "deadline_exceeded"
        assert resp.headers["Retry-After"] and 0.5 <= time.monotonic() - started < 2
    gate.set()
    time.sleep(0.3)
    # The running batch finishes; the queued row, whose client has its 503, is dropped unrun.
    assert ran == [1]


def test_in_flight_cap_refuses_at_once(held_app):
    app, gate, _ = held_app
    holders = [
        threading.Thread(target=lambda: app.test_client().post("/predict", json={"text": "a"}))
        for _ in range(2)
    ]
    for t in holders:
        t.start()
    time.sleep(0.2)
    started = time.monotonic()
    resp = app.test_client().post("/predict", json={"text": "cat"})
    took = time.monotonic() - started
    assert resp.status_code == 503 and resp.json["error"]["code"] == "overloaded"
    assert resp.headers["Retry-After"] == "1" and took < 0.05
    assert app.test_client().get("/healthz").status_code == 200
    gate.set()
    for t in holders:
        t.join(5)
    assert app.test_client().post("/predict", json={"text": "cat"}).status_code == 200
