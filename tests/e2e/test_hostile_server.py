"""The hostile corpus against a real gunicorn: documented 4xx answers, the same worker, flat
memory, JSON bombs answered 400, and nothing left behind by lying Content-Lengths or clients that
vanish mid-upload."""

from __future__ import annotations

import itertools
import json
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.support.hostile import MULTIPART, corpus, multipart, nested_json_requests, upload
from tests.support.server import start_gunicorn, stop, wait_ready

MAX_BODY = 400_000
MAX_PART = 200_000
ROUNDS = 20
WARM_UP_ROUNDS = 2
# A leak shows in every round: one of 50 kB per request (injected to check) made the median round
# add 1.3 MB and the 20 rounds 264 MB.
# Allocators (glibc's per-thread arenas, ONNX Runtime's arena) instead grow in one-off steps, at
# any round or none, and glibc gives a whole arena back and takes it again: up to ~33 MB seen
# here, 31 + 62 MB in one run (a request's image and audio may decode in two threads at once),
# 13 + 13 + 49 + 62 MB in four of ten rounds of a fresh clone's CI run, and in one 20-round run
# three arenas of 62 MB given back and six steps of 13-62 MB taken, 112 MB in all. So the typical
# round must add almost nothing (that catches a leak), and all rounds together stay within about
# three arenas; how many rounds step is left free.
RSS_ROUND_GROWTH_LIMIT_KB = 1_000
RSS_GROWTH_LIMIT_KB = 200_000
SMALL_CASES = [case for case in corpus() if len(case.data) < MAX_PART]


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-gunicorn")
    tmpdir = root / "tmp"
    tmpdir.mkdir()
    log_path = root / "server.log"
    proc, url = start_gunicorn(
        log_path,
        MMS_MODELS_DIR=str(models_dir),
        MMS_DEFAULT_MODEL="tiny",
        MMS_MAX_BODY_BYTES=str(MAX_BODY),
        MMS_MAX_PART_BYTES=f"image={MAX_PART},audio={MAX_PART}",
        MMS_MAX_PARTS="16",
        TMPDIR=str(tmpdir),  # any temp file a request left behind would land here
    )
    try:
        wait_ready(proc, url, log_path)
        yield url, proc, log_path, tmpdir
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()
    log = log_path.read_text()
    assert '" 500 ' not in log and "Traceback" not in log, log


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def assert_alive(url: str, master: int, pid: int) -> None:
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "alive"}
    assert worker_pid(master) == pid


def post_corpus(url: str) -> None:
    for case in SMALL_CASES:
        resp = requests.post(
            f"{url}/predict",
            data=upload(case),
            headers={"Content-Type": MULTIPART},
            timeout=30,
        )
        assert resp.status_code == case.status, (case.name, resp.text)
        error = resp.json()["error"]
        assert (error["code"], error.get("field")) == (case.code, case.part), case.name


def raw_request(url: str, head_length: int, body: bytes, *, finish: str) -> bytes:
    """Send a POST whose Content-Length is ``head_length`` but whose body is ``body``; then
    half-close and read the answer (``finish="shutdown"``) or vanish (``"close"``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: {MULTIPART}\r\n"
            f"Content-Length: {head_length}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        if finish == "close":
            return b""
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_corpus_keeps_the_worker_and_its_memory(server):
    url, proc, _, tmpdir = server
    pid = worker_pid(proc.pid)
    files_before = sorted(tmpdir.rglob("*"))
    for _ in range(WARM_UP_ROUNDS):
        post_corpus(url)
    samples = [rss_kb(pid)]
    for _ in range(ROUNDS):
        post_corpus(url)
        samples.append(rss_kb(pid))
    steps = sorted(after - before for before, after in itertools.pairwise(samples))
    growth = samples[-1] - samples[0]
    print(
        f"worker RSS {samples[0]} kB, growth over {ROUNDS} rounds of {len(SMALL_CASES)}: "
        f"{growth} kB, per round {steps}"
    )
    assert steps[len(steps) // 2] < RSS_ROUND_GROWTH_LIMIT_KB
    assert growth < RSS_GROWTH_LIMIT_KB
    assert_alive(url, proc.pid, pid)
    assert sorted(tmpdir.rglob("*")) == files_before


def test_limits_over_http(server):
    url, proc, _, _ = server
    pid = worker_pid(proc.pid)
    image = b"\x89PNG\r\n\x1a\n" + bytes(MAX_PART - 8 + 1)
    resp = requests.post(f"{url}/predict", files={"image": ("a.png", image)}, timeout=30)
    assert resp.status_code == 413 and resp.json()["error"]["field"] == "image", resp.text
    assert f"limit of {MAX_PART} bytes" in resp.json()["error"]["message"]
    body = multipart(*[("top_k", b"1", None)] * 17)
    resp = requests.post(f"{url}/predict", data=body, headers={"Content-Type": MULTIPART})
    assert resp.status_code == 413 and "limit of 16 parts" in resp.json()["error"]["message"]
    answer = raw_request(url, MAX_BODY + 1, b"", finish="shutdown")
    status, _, rest = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 413"), answer[:300]
    assert json.loads(rest)["error"]["code"] == "payload_too_large"
    assert_alive(url, proc.pid, pid)


def test_json_nested_past_the_limit_is_400_in_the_same_worker(server):
    url, proc, _, _ = server
    pid = worker_pid(proc.pid)
    for case in nested_json_requests(depth=50_000):  # 50,000 deep: within MAX_BODY
        assert len(case.body) <= MAX_BODY, case.name
        resp = requests.post(url + case.path, data=case.body, headers=case.headers, timeout=30)
        assert resp.status_code == 400, (case.name, resp.text)
        error = resp.json()["error"]
        message = error if case.v2 else error["message"]
        assert "nested deeper than the limit of 128 levels" in message, (case.name, message)
    assert_alive(url, proc.pid, pid)


def test_lying_content_length_and_vanishing_clients_leave_nothing(server):
    url, proc, log_path, tmpdir = server
    pid = worker_pid(proc.pid)
    files_before = sorted(tmpdir.rglob("*"))
    body = multipart(("text", b"the cat", None))
    answer = raw_request(url, len(body) + 5000, body, finish="shutdown")
    status, _, rest = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400"), answer[:300]
    assert json.loads(rest)["error"]["code"] == "bad_request"
    for _ in range(5):
        raw_request(url, MAX_BODY - 10, upload(SMALL_CASES[0])[:1000], finish="close")
    time.sleep(1.0)  # the worker notices the closed sockets
    assert_alive(url, proc.pid, pid)
    assert sorted(tmpdir.rglob("*")) == files_before
    resp = requests.post(f"{url}/predict", json={"text": "the cat"}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert "Traceback" not in log_path.read_text()
