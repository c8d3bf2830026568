"""Metrics and logs of real gunicorn with two workers: counts add up, every request line is JSON."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.media import audio_bytes, image_bytes
from tests.support.server import ROOT, START_TIMEOUT_S, start_gunicorn, stop, wait_ready

API_KEY = "obs-secret-key-4711"
PAYLOAD_TEXT = "zebra payload marker"
CLIENT_ADDR = "203.0.113.7"
IMAGE = image_bytes("PNG", size=(64, 48))
AUDIO = audio_bytes("WAV", rate=16000, seconds=0.5)
SINGLE, MULTI, MULTI_ROWS, WITH_AUDIO = 18, 2, 3, 6  # 18 + 2 predicts, 18 + 2 * 3 rows
ROWS = SINGLE + MULTI * MULTI_ROWS
BAD = {  # status: a request that gets it
    400: lambda s, url: s.post(f"{url}/predict", data={"video": "x"}),
    404: lambda s, url: s.post(f"{url}/v1/models/nope/predict", data={"text": "a"}),
    413: lambda s, url: s.post(f"{url}/predict", files={"text": ("t", b"a" * 70_000)}),
    415: lambda s, url: s.post(f"{url}/predict", files={"image": ("a", b"GIF89a" + bytes(20))}),
    422: lambda s, url: s.post(f"{url}/predict", files={"image": ("a", b"\x89PNG\r\n\x1a\n")}),
}
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"


def _predict(i: int, url: str) -> requests.Response:
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "X-Request-ID": f"obs-{i}",
        "X-Forwarded-For": CLIENT_ADDR,
    }
    if i < SINGLE:
        files = {"image": ("x", IMAGE)}
        if i < WITH_AUDIO:
            files["audio"] = ("a", AUDIO)
        data = {"text": PAYLOAD_TEXT}
        return requests.post(f"{url}/predict", headers=headers, files=files, data=data, timeout=60)
    body = {"instances": [{"text": PAYLOAD_TEXT}] * MULTI_ROWS}
    return requests.post(f"{url}/predict", headers=headers, json=body, timeout=60)


def _bad(status: int, url: str) -> requests.Response:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        return BAD[status](session, url)


@pytest.fixture(scope="module")
def run(models_dir, tmp_path_factory) -> dict[str, Any]:
    """Two workers, 20 predicts and 5 bad requests, one scrape, then a clean stop."""
    folder = tmp_path_factory.mktemp("obs")
    stdout, stderr = folder / "stdout.log", folder / "stderr.log"
    proc, url = start_gunicorn(
        stdout,
        stderr,
        MMS_WORKERS="2",
        MMS_MODELS_DIR=str(models_dir),
        MMS_MODELS="tiny",
        MMS_DEFAULT_MODEL="tiny",
        MMS_API_KEYS=API_KEY,
        MMS_TRUSTED_PROXIES="1",
        MMS_LOG_FORMAT="json",
    )
    try:
        wait_ready(proc, url, stdout)
        _wait_for_events(stdout, "ready", 2)  # /readyz answers once the first worker is
        with ThreadPoolExecutor(8) as pool:  # concurrent, so both workers take some
            answers = list(pool.map(_predict, range(SINGLE + MULTI), [url] * (SINGLE + MULTI)))
            bad_answers = pool.map(_bad, BAD, [url] * len(BAD))
            bad = {s: r.status_code for s, r in zip(BAD, bad_answers, strict=True)}
        scrape = requests.get(f"{url}/metrics", timeout=30)
        metrics_dir = Path(_master_line(stdout, "metrics: multiprocess directory").split()[-1])
        files_while_running = sorted(p.name for p in metrics_dir.glob("*.db"))
    finally:
        code = stop(proc)
    return {
        "code": code,
        "answers": answers,
        "bad": bad,
        "scrape": scrape,
        "metrics_dir": metrics_dir,
        "files_while_running": files_while_running,
        "stdout": stdout.read_text(),
        "stderr": stderr.read_text(),
    }


def _wait_for_events(path: Path, event: str, count: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.startswith("{")]
        if sum(x.get("event") == event for x in lines) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} {event!r} lines in {path.read_text()}")


def _master_line(path: Path, start: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("{") and json.loads(line)["message"].startswith(start):
            return json.loads(line)["message"]
    raise AssertionError(f"no {start!r} line in {path.read_text()}")


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def _total(samples, name: str, **labels: str) -> float:
    return sum(
        v for lab, v in samples[name] if all(lab.get(k) == want for k, want in labels.items())
    )


def test_the_run_went_as_planned(run):
    assert run["code"] == 0, run["stdout"] + run["stderr"]
    assert [r.status_code for r in run["answers"]] == [200] * (SINGLE + MULTI)
    assert run["bad"] == {s: s for s in BAD}
    assert run["scrape"].status_code == 200
    assert run["scrape"].headers["Content-Type"].startswith("text/plain; version=")


def test_request_counts_add_up_over_both_workers(run):
    samples = _samples(run["scrape"].text)
    by_status = Counter()
    for labels, value in samples["mms_requests_total"]:
        if labels["route"].endswith("/predict"):
            by_status[labels["status"]] += value
    assert by_status == {"200": SINGLE + MULTI, **{str(s): 1 for s in BAD}}
    assert _total(samples, "mms_requests_total", route="/predict", model="tiny", status="200") == 20
    assert _total(samples, "mms_requests_total", model="nope", status="404") == 1
    assert (
        _total(samples, "mms_request_duration_seconds_count", route="/predict")
        == SINGLE + MULTI + len(BAD) - 1  # the 404 was on /v1/models/<name>/predict
    )
    # The scrape counted requests from both workers: each answered some predicts.
    pids = {line["pid"] for line in _request_lines(run) if line["route"] == "/predict"}
    assert len(pids) == 2, pids


def test_model_side_histograms_match_the_traffic(run):
    samples = _samples(run["scrape"].text)
    model = {"model": "tiny", "version": "2"}
    assert _total(samples, "mms_batch_size_sum", **model) == ROWS
    batches = _total(samples, "mms_batch_size_count", **model)
    assert 1 <= batches <= ROWS
    assert _total(samples, "mms_inference_duration_seconds_count", **model) == batches
    assert _total(samples, "mms_queue_wait_seconds_count", **model) == ROWS
    text = {**model, "modality": "text"}
    assert _total(samples, "mms_preprocess_duration_seconds_count", **text) == ROWS
    assert _total(samples, "mms_input_bytes_sum", **text) == ROWS * len(PAYLOAD_TEXT)
    image = {**model, "modality": "image"}
    # Warm-up images and the refused GIF and empty PNG are not counted: 18 uploads decoded.
    assert _total(samples, "mms_preprocess_duration_seconds_count", **image) == SINGLE
    assert _total(samples, "mms_input_bytes_sum", **image) == SINGLE * len(IMAGE)
    assert _total(samples, "mms_image_pixels_count", **model) == SINGLE
    assert _total(samples, "mms_image_pixels_sum", **model) == SINGLE * 64 * 48
    assert _total(samples, "mms_audio_duration_seconds_count", **model) == WITH_AUDIO
    assert _total(samples, "mms_audio_duration_seconds_sum", **model) == pytest.approx(
        WITH_AUDIO * 0.5
    )
    # Live gauges: nothing waits or runs once the answers are in; one info series per device.
    assert _total(samples, "mms_queue_depth", **model) == 0
    assert _total(samples, "mms_in_flight_requests", **model) == 0
    info = {
        (labels["model"], labels["version"], labels["device"], v)
        for labels, v in samples["mms_model_info"]
    }
    assert info == {("tiny", "1", "CPU:0", 1.0), ("tiny", "2", "CPU:0", 1.0)}
    assert len(samples["mms_model_info"]) == 2  # no per-worker series


def test_metrics_files_are_removed_at_shutdown(run):
    assert any(name.startswith("counter_") for name in run["files_while_running"])
    assert not run["metrics_dir"].exists()


def _request_lines(run) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in run["stdout"].splitlines()]
    return [line for line in lines if line.get("event") == "request"]


def test_every_stdout_line_is_json_and_one_per_request(run):
    lines = [json.loads(line) for line in run["stdout"].splitlines()]  # raises if one is not
    assert all({"timestamp", "level", "logger", "pid", "message"} <= set(x) for x in lines)
    predicts = [x for x in _request_lines(run) if x["request_id"].startswith("obs-")]
    assert sorted(x["request_id"] for x in predicts) == sorted(
        f"obs-{i}" for i in range(SINGLE + MULTI)
    )  # exactly one line each: gunicorn's access log does not add a second
    assert not [x for x in lines if x["logger"] == "gunicorn.access"]
    for line in predicts:
        assert line["method"] == "POST" and line["route"] == "/predict"
        assert line["model"] == "tiny" and line["version"] == "2" and line["status"] == 200
        assert line["request_bytes"] > 0 and line["duration_ms"] > 0
        assert set(line["timing_ms"]) == {"preprocess", "queue", "inference", "total"}
        assert line["client"] == CLIENT_ADDR  # through ProxyFix, one trusted proxy
        assert re.fullmatch(r"[0-9a-f]{16}", line["api_key_id"])
    errors = Counter(x["status"] for x in _request_lines(run) if x["status"] >= 400)
    assert errors >= Counter({s: 1 for s in BAD})


def test_logs_hold_no_key_and_no_payload(run):
    logs = run["stdout"] + run["stderr"]
    assert API_KEY not in logs
    assert PAYLOAD_TEXT not in logs and "a" * 100 not in logs


def test_start_up_lines_carry_structured_fields(run):
    lines = [json.loads(line) for line in run["stdout"].splitlines()]
    events = Counter(x.get("event") for x in lines)
    assert events["device"] == events["models_loaded"] == events["ready"] == 2  # per worker
    loaded = next(x for x in lines if x.get("event") == "models_loaded")
    assert loaded["device"] == "CPU:0" and loaded["models"] == {"tiny": 2}
    model_lines = [x for x in lines if x.get("event") == "model_loaded"]
    assert {(x["model"], x["version"], x["device"]) for x in model_lines} == {
        ("tiny", 1, "CPU:0"),
        ("tiny", 2, "CPU:0"),
    }
    assert all(x["path"].endswith(f"tiny/{x['version']}") and x["load_s"] > 0 for x in model_lines)
    assert loaded["tensorflow_s"] > 0 and loaded["load_s"] > 0
    ready = next(x for x in lines if x.get("event") == "ready")
    assert ready["startup_s"] >= ready["warmup_s"] > 0


def test_dashboard_queries_use_only_scraped_metrics(run):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bmms_[a-z_]+\b", expr)}
    scraped = set(_samples(run["scrape"].text))
    assert len(dashboard["panels"]) >= 6 and used
    assert used <= scraped, used - scraped
