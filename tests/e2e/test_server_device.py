"""MMS_DEVICE=gpu against real gunicorn on this machine, which has no GPU: a clear, fast stop.

The other half, auto falling back to the CPU, is checked on the image's own command
(tests/deploy/test_image_command.py: metadata, metrics and the start-up log all say CPU:0).
"""

from __future__ import annotations

import json

from app import WORKER_BOOT_ERROR
from tests.support.server import start_gunicorn

STOP_WITHIN_S = 120  # the worker imports TensorFlow before it can look for a GPU


def test_gpu_without_a_gpu_stops_gunicorn_with_a_clear_message(tmp_path, models_dir):
    log_path = tmp_path / "server.log"
    proc, _ = start_gunicorn(
        log_path, MMS_MODELS_DIR=str(models_dir), MMS_DEFAULT_MODEL="tiny", MMS_DEVICE="gpu"
    )
    try:
        code = proc.wait(STOP_WITHIN_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = log_path.read_text()
    # gunicorn halts on the worker's boot-error status instead of respawning it forever.
    assert code == WORKER_BOOT_ERROR, log[-3000:]
    failure = next(
        json.loads(line)
        for line in log.splitlines()
        if line.startswith("{") and "start-up failed" in line
    )
    assert failure["level"] == "CRITICAL"
    message = failure["message"]
    assert "'gpu' (MMS_DEVICE) asks for a GPU, but no GPU is visible" in message
    assert "docker run --gpus all" in message and "MMS_DEVICE=cpu" in message
    assert "Worker failed to boot" in log
