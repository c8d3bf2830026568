"""In-process checks of the metrics route, the log formats and the per-request timings."""

from __future__ import annotations

import importlib
import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.observability.logging import gunicorn_logconfig, json_formatter, make_formatter
from app.observability.request_hooks import stage_timings
from tests.support.media import image_bytes


def _value(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_route_counts_by_rule_not_raw_path(client):
    before = client.get("/metrics").text
    client.post("/v1/models/tiny/versions/1/predict", json={"text": "a cat"})
    client.post(
        "/v1/models/tiny/versions/1/predict",
        data={"image": (io.BytesIO(image_bytes("PNG", size=(10, 20))), "x")},
    )
    after = client.get("/metrics").text
    rule = "/v1/models/<name>/versions/<int:version>/predict"
    labels = {"route": rule, "method": "POST", "model": "tiny", "status": "200"}
    assert (
        _value(after, "mms_requests_total", **labels)
        - _value(before, "mms_requests_total", **labels)
        == 2
    )
    pixels = {"model": "tiny", "version": "1"}
    assert (
        _value(after, "mms_image_pixels_sum", **pixels)
        - _value(before, "mms_image_pixels_sum", **pixels)
        == 200
    )


def test_unknown_paths_share_one_route_label(client):
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    text = client.get("/metrics").text
    assert _value(text, "mms_requests_total", route="unmatched", status="404") >= 2
    assert "/no/such/path" not in text


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.requests", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_extras_as_fields():
    line = json.loads(make_formatter("json").format(_record(status=200, timing_ms={"total": 1})))
    assert line["message"] == "GET /x" and line["level"] == "INFO"
    assert line["logger"] == "app.requests" and isinstance(line["pid"], int)
    assert line["status"] == 200 and line["timing_ms"] == {"total": 1}
    assert "timestamp" in line


def test_text_lines_read_like_before():
    assert make_formatter("text").format(_record()).endswith("[INFO] app.requests: GET /x")


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="log_format 'xml'; expected one of json, text"):
        make_formatter("xml")
    with pytest.raises(ValueError, match="log_format"):
        gunicorn_logconfig("xml", "info", access_log=False)


def test_gunicorn_logs_use_the_same_formatter():
    config = gunicorn_logconfig("json", "info", access_log=False)
    factory = config["formatters"]["mms"]["()"]
    module, _, name = factory.rpartition(".")
    assert getattr(importlib.import_module(module), name) is json_formatter
    assert config["handlers"]["mms"]["stream"] == "ext://sys.stdout"
    assert config["root"]["handlers"] == []  # the worker's configure_logging installs its own
    # Any logconfig_dict turns gunicorn's access log on: only MMS_ACCESS_LOG may let it through.
    assert config["loggers"]["gunicorn.access"]["level"] == "CRITICAL"
    assert (
        gunicorn_logconfig("json", "info", access_log=True)["loggers"]["gunicorn.access"]["level"]
        == "INFO"
    )


@pytest.mark.parametrize(
    ("timings", "expected"),
    [
        ([], {}),
        ([{"queue": 2.0, "total": 4.0}], {"queue": 2.0, "total": 4.0}),
        (
            [{"preprocess": 1.0, "queue": 2.0, "total": 4.0}, {"preprocess": 1.5, "queue": 3.0}],
            {"preprocess": 2.5, "queue": 3.0, "total": 4.0},
        ),
    ],
)
def test_stage_timings_add_preprocessing_and_take_the_slowest_wait(timings, expected):
    assert stage_timings([{"timing_ms": t} for t in timings]) == expected
