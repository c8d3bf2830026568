"""End to end: real gunicorn with config/gunicorn.conf.py, real HTTP, real multipart bytes."""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.support.bundles import write_bundle
from tests.support.media import audio_bytes, image_bytes
from tests.support.server import START_TIMEOUT_S, serving, start_gunicorn


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with serving(log_path, MMS_MODELS_DIR=str(models_dir), MMS_DEFAULT_MODEL="tiny") as url:
        yield url, log_path


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
    proc, _ = start_gunicorn(
        log_path, MMS_MODELS_DIR=str(tmp_path / "models"), MMS_DEFAULT_MODEL="tiny"
    )
    try:
        code = proc.wait(START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    log = log_path.read_text()
    assert code != 0
    assert "bundle tiny/1" in log and "2 labels but the model output has 3 units" in log
