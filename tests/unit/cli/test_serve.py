"""``serve``: gunicorn with the repo's config, flags mapped onto MMS_*, stopped by SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.server import ROOT, free_port, stop, wait_ready

# Starts the service under gunicorn.
pytestmark = pytest.mark.slow


def test_serve_answers_readyz_and_stops_on_sigterm(models_dir, tmp_path):
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "MMS_DEFAULT_MODEL": "tiny", "MMS_DRAIN_DELAY_S": "0"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--models-dir",
                str(models_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        # exec'd: the process we started is gunicorn's master itself, so signals reach it.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"gunicorn" in cmdline and b"wsgi:app" in cmdline
        assert str(ROOT / "config" / "gunicorn.conf.py").encode() in cmdline
        models = requests.get(f"{url}/v1/models", timeout=5).json()
        assert {m["name"] for m in models["models"]} == {"tiny", "strict"}
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()
