"""End to end: API keys and one rate limit shared by two gunicorn workers through memcached."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.server import free_port, start_gunicorn, stop, wait_ready

LIMIT = 5
AUTH_KEY = "k-e2e-auth-6b1f0d"
LIMITED_KEY = "k-e2e-limited-c3a9"


@pytest.fixture(scope="module")
def memcached():
    """A private memcached on a free loopback port, stopped after the module."""
    binary = shutil.which("memcached")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("memcached is not installed; `bash dev.sh test` installs it with apt-get")
        pytest.skip("memcached is not installed (apt-get install memcached)")
    port = free_port()
    # -u only matters as root, where memcached refuses to start without it; -U 0: no UDP.
    proc = subprocess.Popen(
        [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", "-u", "nobody"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "memcached did not start listening"
                time.sleep(0.05)
        yield f"memcached://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()


@pytest.fixture(scope="module")
def server(models_dir, memcached, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn-security") / "server.log"
    proc, url = start_gunicorn(
        log_path,
        MMS_WORKERS="2",
        MMS_MODELS_DIR=str(models_dir),
        MMS_DEFAULT_MODEL="tiny",
        MMS_MODELS="tiny",
        MMS_WARMUP="false",
        MMS_API_KEYS=f"{AUTH_KEY},{LIMITED_KEY}",
        MMS_RATE_LIMIT=f"{LIMIT}/minute",
        MMS_RATE_LIMIT_STORAGE_URI=memcached,
    )
    try:
        wait_ready(proc, url, log_path, workers=2)
        yield url, log_path
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()
    log = log_path.read_text()
    assert AUTH_KEY not in log and LIMITED_KEY not in log


def test_401_over_http(server):
    url, _ = server
    resp = requests.get(f"{url}/v1/models", timeout=30)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    assert resp.json()["error"]["code"] == "unauthorized"
    wrong = requests.get(f"{url}/v1/models", headers={"X-API-Key": "nope"}, timeout=30)
    assert wrong.status_code == 401 and "nope" not in wrong.text
    ok = requests.get(f"{url}/v1/models", headers={"X-API-Key": AUTH_KEY}, timeout=30)
    assert ok.status_code == 200
    assert requests.get(f"{url}/healthz", timeout=30).status_code == 200


def test_two_workers_share_one_limit(server):
    url, log_path = server
    assert log_path.read_text().count("Booting worker") == 2

    def one(_):
        # requests.get opens a fresh connection each time, so the kernel spreads them over
        # both workers' accept calls.
        return requests.get(
            f"{url}/v1/models", headers={"Authorization": f"Bearer {LIMITED_KEY}"}, timeout=30
        )

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, range(2 * LIMIT + 2)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * LIMIT + [429] * (LIMIT + 2)
    for resp in answers:
        if resp.status_code == 429:
            assert resp.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
