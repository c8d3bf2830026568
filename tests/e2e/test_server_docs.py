"""Real gunicorn: curl -d style text forms, /docs offline, and a bounded schemathesis run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.support.server import serving

# Per operation: at most this many generated cases in each phase (positive and negative data),
# derandomised so every CI run sends the same requests.
MAX_EXAMPLES = 25
SCHEMATHESIS_TIMEOUT_S = 120
OPERATIONS = 21
# Rules the run must have sent requests to, with a status each must have seen at least once.
MUST_REACH = {
    ("/v2", "GET"): 200,
    ("/v2/health/live", "GET"): 200,
    ("/v2/health/ready", "GET"): 200,
    ("/v2/models/<name>", "GET"): 200,
    ("/v2/models/<name>/versions/<version>", "GET"): 200,
    ("/v2/models/<name>/ready", "GET"): 200,
    ("/v2/models/<name>/versions/<version>/ready", "GET"): 200,
    ("/v2/models/<name>/infer", "POST"): 200,
    ("/v2/models/<name>/versions/<version>/infer", "POST"): 404,
    ("/metrics", "GET"): 200,
    ("/", "GET"): 200,
    ("/playground/<path:filename>", "GET"): 200,
}


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with serving(log_path, MMS_MODELS_DIR=str(models_dir), MMS_DEFAULT_MODEL="tiny") as url:
        yield url, log_path


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
    assert operations and int(operations[1]) == OPERATIONS, output
    assert cases and cases[1] == cases[2] and int(cases[1]) >= OPERATIONS * MAX_EXAMPLES, output
    print(f"schemathesis: {operations[1]} operations, {cases[1]} cases in {elapsed:.1f} s")
    assert elapsed < 60, f"schemathesis took {elapsed:.1f} s"
    log = log_path.read_text()
    assert "Traceback" not in log
    seen = _statuses_seen(log)
    missed = {rule: code for rule, code in MUST_REACH.items() if code not in seen.get(rule, ())}
    assert not missed, f"never answered: {missed}; seen: {seen}"
    assert not any(500 in statuses for statuses in seen.values()), seen


def _statuses_seen(log: str) -> dict[tuple[str, str], set[int]]:
    """(route, method) -> the statuses answered, from the server's JSON request lines."""
    seen: dict[tuple[str, str], set[int]] = {}
    for text in log.splitlines():
        if not (text.startswith("{") and '"event": "request"' in text):
            continue
        line = json.loads(text)
        seen.setdefault((line["route"], line["method"]), set()).add(line["status"])
    return seen
