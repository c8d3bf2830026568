"""Debian's nginx with deploy/nginx/mms.conf in front of two real gunicorn replicas, on loopback.

Steady load spreads over both; SIGTERM of a replica under load costs no client anything; SIGKILL
fails at most the requests in flight on it, and nginx stops sending it traffic. Loops are bounded,
every process is stopped in ``finally``; the whole file takes well under a minute.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.balancer import Nginx, find, parse_conf
from tests.support.media import image_bytes
from tests.support.server import start_gunicorn, stop, wait_ready

CLIENTS = 6
DRAIN_DELAY_S = 1.0
FILES = {"image": ("x.png", image_bytes("PNG", size=(160, 120)), "image/png")}
MAX_FAILS = int(find(parse_conf(), "server")[0]["args"][1].removeprefix("max_fails="))


@dataclass
class Replica:
    proc: subprocess.Popen
    url: str
    log_path: Path

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def requests_logged(self) -> list[dict]:
        """The service's own request log lines (JSON) for the prediction route."""
        lines = [json.loads(line) for line in self.log_path.read_text().splitlines() if line]
        return [r for r in lines if r.get("event") == "request" and r["route"] == "/predict"]


@dataclass
class Outcome:
    started: float
    ended: float
    request_id: str
    result: object  # the status code, or the exception's class name
    echoed_id: str | None = None


class Fleet:
    """Two gunicorn replicas of the service behind one nginx; replaces replicas a test stopped."""

    def __init__(self, tmp: Path, models_dir: Path) -> None:
        self.tmp = tmp
        self.models_dir = models_dir
        self.replicas: list[Replica] = []
        self.nginx: Nginx | None = None
        self.generation = itertools.count()

    def _start_replica(self) -> Replica:
        n = next(self.generation)
        log_path = self.tmp / f"replica-{n}.log"
        # stdout: the service's JSON lines only; TensorFlow's native messages go to stderr.
        proc, url = start_gunicorn(
            log_path,
            self.tmp / f"replica-{n}.err",
            MMS_MODELS_DIR=str(self.models_dir),
            MMS_MODELS="tiny",
            MMS_DEFAULT_MODEL="tiny",
            MMS_DRAIN_DELAY_S=str(DRAIN_DELAY_S),
            MMS_GRACEFUL_TIMEOUT="20",
            MMS_TRUSTED_PROXIES="1",
            PROMETHEUS_MULTIPROC_DIR=str(self.tmp / f"metrics-{n}"),
        )
        return Replica(proc, url, log_path)

    def ensure_two(self) -> tuple[Replica, Replica]:
        """Two ready replicas and a fresh nginx (no failure counts) in front of them."""
        alive = [r for r in self.replicas if r.proc.poll() is None]
        started = [self._start_replica() for _ in range(2 - len(alive))]
        for replica in started:
            wait_ready(replica.proc, replica.url, replica.log_path)
        self.replicas = alive + started
        if self.nginx is not None:
            self.nginx.stop()
        self.nginx = Nginx(
            self.tmp / f"nginx-{next(self.generation)}", [r.address for r in self.replicas]
        )
        self.nginx.start()
        return self.replicas[0], self.replicas[1]

    def close(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for replica in self.replicas:
            if replica.proc.poll() is None:
                stop(replica.proc)

    def nginx_log(self, expected: Iterable[str] = ()) -> dict[str, dict]:
        """nginx's access log lines (JSON, deploy/nginx/mms.conf's log_format) by request id.

        nginx writes a line after the response has gone out, so a client can hold its answer
        before the line exists: wait (briefly) until every ``expected`` id is there.
        """
        assert self.nginx is not None
        expected, deadline = set(expected), time.monotonic() + 5
        while True:
            lines = self.nginx.access_log.read_text().splitlines()
            entries = {entry["request_id"]: entry for entry in map(json.loads, lines)}
            if expected <= set(entries) or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, models_dir):
    fleet = Fleet(tmp_path_factory.mktemp("fleet"), models_dir)
    try:
        yield fleet
    finally:
        fleet.close()


class Load:
    """CLIENTS threads posting predictions through nginx back to back until stopped."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]

    def _client(self, index: int) -> None:
        deadline = time.monotonic() + 30  # bounded even if stop() never comes
        with requests.Session() as session:
            for n in itertools.count():
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                request_id = f"{self.name}-{index}-{n}"
                started = time.monotonic()
                try:
                    response = session.post(
                        f"{self.url}/predict",
                        files=FILES,
                        data={"text": "the cat"},
                        headers={"X-Request-ID": request_id},
                        timeout=15,
                    )
                    outcome = Outcome(
                        started,
                        time.monotonic(),
                        request_id,
                        response.status_code,
                        response.headers.get("X-Request-ID"),
                    )
                except requests.RequestException as exc:
                    outcome = Outcome(started, time.monotonic(), request_id, type(exc).__name__)
                with self._lock:
                    self.outcomes.append(outcome)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(20)

    def results(self) -> Counter:
        return Counter(o.result for o in self.outcomes)


def _kill_replica(replica: Replica) -> None:
    """SIGKILL the worker and its master at once, as when a container or machine dies."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(replica.proc.pid)], capture_output=True, text=True
    ).stdout
    for pid in [int(p) for p in out.split()] + [replica.proc.pid]:
        os.kill(pid, signal.SIGKILL)
    replica.proc.wait(10)


def test_load_spreads_and_headers_pass_through(fleet):
    a, b = fleet.ensure_two()
    with Load(fleet.nginx.url, "spread") as load:
        time.sleep(2.0)
    assert load.results() == {200: len(load.outcomes)}, load.results()
    assert all(o.echoed_id == o.request_id for o in load.outcomes)
    served = {r.address: len(r.requests_logged()) for r in (a, b)}
    # Every request reached exactly one replica (no retries on a healthy fleet), both got a share.
    assert sum(served.values()) == len(load.outcomes), served
    assert min(served.values()) >= 0.25 * len(load.outcomes), served
    print(f"\nspread: {len(load.outcomes)} requests, per replica {served}")

    # No X-Request-ID from the client: nginx makes one, the service uses it, both log it.
    generated = requests.post(f"{fleet.nginx.url}/predict", json={"text": "cat"}, timeout=10)
    assert generated.status_code == 200
    request_id = generated.headers["X-Request-ID"]
    assert request_id in fleet.nginx_log([request_id])
    logged = [r for r in a.requests_logged() + b.requests_logged() if r["request_id"] == request_id]
    assert len(logged) == 1

    # A client at 127.0.0.2 that claims to be 203.0.113.9: the service logs the address nginx saw.
    conn = http.client.HTTPConnection(
        "127.0.0.1", fleet.nginx.port, source_address=("127.0.0.2", 0)
    )
    try:
        conn.request(
            "POST",
            "/predict",
            body=json.dumps({"text": "cat"}),
            headers={
                "Content-Type": "application/json",
                "X-Forwarded-For": "203.0.113.9",
                "X-Request-ID": "forwarded-for-check",
            },
        )
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    logged = [
        r
        for r in a.requests_logged() + b.requests_logged()
        if r["request_id"] == "forwarded-for-check"
    ]
    assert [r["client"] for r in logged] == ["127.0.0.2"]


def test_sigterm_of_a_replica_under_load_costs_no_client_anything(fleet):
    a, b = fleet.ensure_two()
    with Load(fleet.nginx.url, "sigterm") as load:
        time.sleep(1.0)
        signalled = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        exit_code = a.proc.wait(20)
        exited = time.monotonic()
        time.sleep(0.5)
    assert exit_code == 0, a.log_path.read_text()[-3000:]
    assert load.results() == {200: len(load.outcomes)}, load.results()
    nginx_log = fleet.nginx_log(o.request_id for o in load.outcomes)
    last_hop = {
        o.request_id: nginx_log[o.request_id]["upstream_addr"].split(", ")[-1]
        for o in load.outcomes
    }
    drained_on_a = [
        o for o in load.outcomes if o.started > signalled and last_hop[o.request_id] == a.address
    ]
    after_exit = [o for o in load.outcomes if o.started > exited]
    retried = [e for e in nginx_log.values() if "," in e["upstream_addr"]]
    print(
        f"\nSIGTERM: {len(load.outcomes)} requests, errors 0, exit {exited - signalled:.1f} s "
        f"after SIGTERM; A answered {len(drained_on_a)} after SIGTERM (its drain), nginx retried "
        f"{len(retried)} on B (refused connects), {len(after_exit)} sent after A exited"
    )
    # A kept serving through its drain; afterwards every request went to B, none was lost.
    assert len(drained_on_a) > CLIENTS
    assert after_exit and all(last_hop[o.request_id] == b.address for o in after_exit)


def test_sigkill_of_a_replica_fails_only_its_requests_in_flight(fleet):
    a, b = fleet.ensure_two()
    with Load(fleet.nginx.url, "sigkill") as load:
        time.sleep(1.0)
        _kill_replica(a)
        killed = time.monotonic()  # requests started before this may have been on A
        time.sleep(3.0)
    failed = [o for o in load.outcomes if o.result != 200]
    # Only requests already running when A died may fail: one per client at most.
    assert len(failed) <= CLIENTS, load.results()
    assert all(o.started < killed for o in failed), failed
    after = [o for o in load.outcomes if o.started > killed]
    assert len(after) > 5 * CLIENTS and all(o.result == 200 for o in after)
    # nginx takes A out of rotation after max_fails refused connects, each retried on B; a few
    # requests may pick A at the same moment before the first failure is counted.
    nginx_log = fleet.nginx_log(o.request_id for o in after)
    tried_a = [o for o in after if a.address in nginx_log[o.request_id]["upstream_addr"]]
    late = [o for o in tried_a if o.started > killed + 0.5]
    repeated = [e for e in nginx_log.values() if e["upstream_addr"].startswith(a.address + ",")]
    print(
        f"\nSIGKILL: {len(load.outcomes)} requests, {len(failed)} failed, {len(repeated)} repeated "
        f"on B after A failed them, {len(after)} sent after the kill, {len(tried_a)} of them tried "
        f"on A first (max_fails {MAX_FAILS})"
    )
    assert len(tried_a) <= MAX_FAILS + CLIENTS and not late, (tried_a, late)
