"""The per-request JSON log line of a v2 inference names its model, version, route and stages."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.observability.logging import json_formatter

TEXT = {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a cat", "a dog"]}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the app.requests logger writes, through the service's own JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("app.requests")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_v2_infer_logs_one_line_with_model_version_route_and_stages(client, log_lines):
    resp = client.post("/v2/models/tiny/versions/2/infer", json={"inputs": [TEXT]})
    assert resp.status_code == 200, resp.json
    [line] = _lines(log_lines)
    assert line["event"] == "request" and line["method"] == "POST"
    assert line["route"] == "/v2/models/<name>/versions/<version>/infer"
    assert line["path"] == "/v2/models/tiny/versions/2/infer"
    assert (line["model"], line["version"], line["status"]) == ("tiny", "2", 200)
    assert line["request_id"] == resp.headers["X-Request-ID"]
    timing = line["timing_ms"]
    assert set(timing) == {"decode", "infer", "encode", "total"}
    assert all(value >= 0 for value in timing.values())
    assert timing["total"] >= timing["infer"] > 0
    assert line["duration_ms"] >= timing["total"]


def test_served_version_is_logged_and_a_refused_request_names_its_model(client, log_lines):
    assert client.post("/v2/models/tiny/infer", json={"inputs": [TEXT]}).status_code == 200
    bad = {"inputs": [{**TEXT, "name": "video"}]}
    assert client.post("/v2/models/tiny/infer", json=bad).status_code == 400
    served, refused = _lines(log_lines)
    assert (served["model"], served["version"], served["status"]) == ("tiny", "2", 200)
    assert (refused["model"], refused["version"], refused["status"]) == ("tiny", "2", 400)
    assert "timing_ms" not in refused
