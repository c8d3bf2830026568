"""Start and stop real gunicorn processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.servers import READY_LOG_LINE, clean_environ

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    log_path: Path, stderr_path: Path | None = None, *, clean_env: bool = False, **env: str
) -> tuple[subprocess.Popen, str]:
    """Start gunicorn as a user would, with MMS_* ``env`` on top; returns (process, base URL).

    Its stdout and stderr both go to ``log_path``, unless ``stderr_path`` keeps stderr apart.
    With ``clean_env`` it gets ``clean_environ()`` instead of this process's environment.
    """
    port = free_port()
    # No drain delay unless a test asks: stopping a test server should not wait for a balancer.
    environ = {
        **(clean_environ() if clean_env else os.environ),
        "MMS_BIND": f"127.0.0.1:{port}",
        "MMS_WORKERS": "1",
        "MMS_DRAIN_DELAY_S": "0",
        **env,
    }
    # The child keeps its own copies of the descriptors.
    with open(log_path, "wb") as log, open(stderr_path or os.devnull, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=err if stderr_path else subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc: subprocess.Popen, url: str, log_path: Path, workers: int = 1) -> float:
    """Seconds until ``/readyz`` answers 200 and ``workers`` workers have logged they are ready.

    With several workers ``/readyz`` answers for whichever accepts: one may be ready while another
    is still loading (and would answer 503 loading).
    """
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT_S:
        assert proc.poll() is None, log_path.read_text()
        try:
            ready = requests.get(f"{url}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            ready = False  # gunicorn is still binding its socket
        if ready and log_path.read_text().count(READY_LOG_LINE) >= workers:
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not ready after {START_TIMEOUT_S} s:\n{log_path.read_text()}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@contextmanager
def serving(log_path: Path, **env: str) -> Iterator[str]:
    """A ready gunicorn (``start_gunicorn``'s settings) for the block; its base URL.

    It must stop cleanly: a non-zero exit fails the test, with the server log.
    """
    proc, url = start_gunicorn(log_path, **env)
    try:
        wait_ready(proc, url, log_path)
        yield url
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()
