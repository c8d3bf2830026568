"""End to end: real gunicorn with config/gunicorn.conf.py, real HTTP, real multipart bytes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.bundles import write_bundle
from tests.media import audio_bytes, image_bytes

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(models_dir: Path, default_model: str, log_path: Path, **env: str):
    """Start gunicorn as a user would, pointed at ``models_dir``; returns (process, base URL)."""
    port = free_port()
    environ = {
        **os.environ,
        "MMS_BIND": f"127.0.0.1:{port}",
        "MMS_MODELS_DIR": str(models_dir),
        "MMS_DEFAULT_MODEL": default_model,
        "MMS_WORKERS": "1",
        **env,
    }
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen, url: str, log_path: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT_S:
        assert proc.poll() is None, log_path.read_text()
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass  # the worker is still importing TensorFlow and loading models
        time.sleep(0.25)
    raise AssertionError(f"not ready after {START_TIMEOUT_S} s:\n{log_path.read_text()}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    proc, url = start_gunicorn(models_dir, "tiny", log_path)
    try:
        wait_ready(proc, url, log_path)
        yield url, log_path
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()


def test_multipart_predict_over_http(server):
    url, _ = server
    resp = requests.post(
        f"{url}/predict?top_k=2",
        timeout=30,
        headers={"X-Request-ID": "e2e-1"},
        files={
            "image": ("x.bin", image_bytes("JPEG"), "text/plain"),
            "audio": ("a.mp3", audio_bytes("MP3", rate=22050), "audio/mpeg"),
        },
        data={"text": "the cat"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["request_id"] == "e2e-1" == resp.headers["X-Request-ID"]
    assert body["model"] == {"name": "tiny", "version": "2"}
    assert len(body["outputs"]["label"]) == 2
    assert body["modalities"] == {"image": "provided", "audio": "provided", "text": "provided"}


def test_errors_over_http_are_json(server):
    url, _ = server
    resp = requests.post(
        f"{url}/predict", files={"image": ("a.gif", b"GIF89a" + bytes(20))}, timeout=30
    )
    assert resp.status_code == 415 and resp.json()["error"]["field"] == "image"
    resp = requests.get(f"{url}/nowhere", timeout=30)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


def test_health_and_models_over_http(server):
    url, log_path = server
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "alive"}
    models = requests.get(f"{url}/v1/models", timeout=5).json()["models"]
    assert {m["name"] for m in models} == {"tiny", "strict"}
    assert "running models on CPU:0" in log_path.read_text()


def test_broken_bundle_stops_the_start_with_its_message(tmp_path):
    write_bundle(tmp_path / "models", "tiny", 1, labels=("a", "b"))
    log_path = tmp_path / "server.log"
    proc, _ = start_gunicorn(tmp_path / "models", "tiny", log_path)
    try:
        code = proc.wait(START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    log = log_path.read_text()
    assert code != 0
    assert "bundle tiny/1" in log and "2 labels but the model output has 3 units" in log
