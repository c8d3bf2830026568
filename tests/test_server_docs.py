"""Real gunicorn: curl -d style text forms, /docs offline, and a bounded schemathesis run."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests

from tests.server import start_gunicorn, stop, wait_ready

# Per operation: at most this many generated cases in each phase (positive and negative data),
# derandomised so every CI run sends the same requests.
MAX_EXAMPLES = 25
SCHEMATHESIS_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    proc, url = start_gunicorn(log_path, MMS_MODELS_DIR=str(models_dir), MMS_DEFAULT_MODEL="tiny")
    try:
        wait_ready(proc, url, log_path)
        yield url, log_path
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()


def test_urlencoded_form_over_http(server):
    url, _ = server
    # What `curl -d text=cat -d top_k=2 URL` and requests' data= send.
    resp = requests.post(f"{url}/predict", data={"text": "the cat", "top_k": "2"}, timeout=30)
    assert resp.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["outputs"]["label"]) == 2
    assert body["modalities"]["text"] == "provided"


def test_unsupported_content_type_over_http_is_415(server):
    url, _ = server
    resp = requests.post(
        f"{url}/predict", data=b"cat", headers={"Content-Type": "text/plain"}, timeout=30
    )
    assert resp.status_code == 415
    assert resp.json()["error"]["code"] == "unsupported_media_type"
    assert "application/x-www-form-urlencoded" in resp.headers["Accept-Post"]


def test_docs_and_document_over_http(server):
    url, _ = server
    document = requests.get(f"{url}/openapi.json", timeout=30).json()
    assert document["openapi"] == "3.1.0"
    page = requests.get(f"{url}/docs", timeout=30)
    assert page.status_code == 200 and "docs/assets/swagger-ui-bundle.js" in page.text
    asset = requests.get(f"{url}/docs/assets/swagger-ui-bundle.js", timeout=30)
    assert asset.status_code == 200
    assert asset.headers["Content-Type"].startswith("text/javascript")


def test_schemathesis_finds_no_server_error_or_schema_violation(server, tmp_path):
    url, log_path = server
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{url}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,"
            "content_type_conformance,response_schema_conformance",
            "--mode",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT_S,
    )
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, output + "\n--- server log ---\n" + log_path.read_text()[-5000:]
    operations = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert operations and int(operations[1]) >= 9, output
    assert cases and cases[1] == cases[2] and int(cases[1]) >= 9 * MAX_EXAMPLES, output
    assert elapsed < 60, f"schemathesis took {elapsed:.1f} s"
    assert "Traceback" not in log_path.read_text()
