"""Every entry point serves with the thread pools fixed (app/threads.py), from a clean environment.

A worker logs its pools once it is ready (event thread_pools): threadpoolctl's view of each loaded
BLAS and OpenMP library, OpenCV's, numba's, TensorFlow's and ONNX Runtime's sizes. Each server
here starts the way a user starts it, with none of this process's OMP_*/OPENBLAS_*/MKL_*.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.model.device import tensorflow_threads
from app.settings import load_settings
from app.threads import POOL_VARIABLES
from tests.support.server import ROOT, clean_environ, free_port, start_gunicorn, stop, wait_ready

LOG_WAIT_S = 30
# Sizes asked for in the override case, each through its own variable or setting.
OVERRIDES = {
    "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2",
    "NUMBA_NUM_THREADS": "2",
    "OPENCV_FOR_THREADS_NUM": "2",
    "MMS_TF_INTRA_OP_THREADS": "2",
    "MMS_TF_INTER_OP_THREADS": "2",
}


def test_importing_app_fixes_the_pools_before_numpy_starts_openblas():
    """The guarantee under every entry point: ``import app`` sizes the pools before numpy loads."""
    script = (
        "import json, app, numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "print(json.dumps([i['num_threads'] for i in threadpool_info()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_environ(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sizes = json.loads(out)
    assert sizes and set(sizes) == {1}, out


def start_dev_sh(log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """``bash dev.sh serve``, once .venv is up to date (else it would install first)."""
    stamp = ROOT / ".venv" / ".installed-requirements.txt"
    if not stamp.is_file() or stamp.stat().st_mtime < (ROOT / "requirements.txt").stat().st_mtime:
        pytest.skip("dev.sh serve would install requirements.txt first: run bash dev.sh test")
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            ["bash", "dev.sh", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def start_python_m_app(log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """``python -m app serve``, from the repository root."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def pools_record(log_path: Path) -> dict[str, Any]:
    """The worker's thread_pools log line, which follows its ready line."""
    deadline = time.monotonic() + LOG_WAIT_S
    while time.monotonic() < deadline:
        for line in log_path.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == "thread_pools":
                return json.loads(line)
        time.sleep(0.25)
    raise AssertionError(f"no thread_pools line:\n{log_path.read_text()}")


def expected_sizes(env: dict[str, str]) -> dict[str, int]:
    """What each pool should be under ``env``: its variable's value or setting, else the default."""
    variables = {**POOL_VARIABLES, **{k: v for k, v in env.items() if k in POOL_VARIABLES}}
    intra, inter = tensorflow_threads(load_settings(environ=env))
    return {
        "openblas": int(variables["OPENBLAS_NUM_THREADS"]),
        "openmp": int(variables["OMP_NUM_THREADS"]),
        "opencv": int(variables["OPENCV_FOR_THREADS_NUM"]),
        "numba": int(variables["NUMBA_NUM_THREADS"]),
        "tensorflow_intra_op": intra,
        "tensorflow_inter_op": inter,
        # ONNX Runtime's sessions take TensorFlow's intra-op size (app/model/backend.py).
        "onnxruntime_intra_op": intra,
    }


def assert_pools(pools: dict[str, Any], expected: dict[str, int]) -> None:
    # Every library the reference service loads is there, each with the size asked for.
    for name, size in expected.items():
        found = {key: value for key, value in pools.items() if key.split(":")[0] == name}
        assert found, f"no {name} pool in {pools}"
        assert set(found.values()) == {size}, (name, pools)
    unexpected = {key for key in pools if key.split(":")[0] not in expected}
    assert not unexpected, pools  # a library this test does not know: give it a size here


@pytest.mark.parametrize(
    "entry_point,overrides",
    [
        ("gunicorn -c config/gunicorn.conf.py wsgi:app", {}),  # README, Dockerfile CMD
        ("bash dev.sh serve", {}),
        ("python -m app serve", OVERRIDES),
    ],
)
def test_entry_point_starts_workers_with_the_configured_pools(tmp_path, entry_point, overrides):
    log_path = tmp_path / "server.log"
    if entry_point.startswith("gunicorn"):
        proc, url = start_gunicorn(log_path, clean_env=True, MMS_LOG_FORMAT="json", **overrides)
    else:
        port = free_port()
        env = {
            **clean_environ(),
            "MMS_BIND": f"127.0.0.1:{port}",
            "MMS_WORKERS": "1",
            "MMS_DRAIN_DELAY_S": "0",
            "MMS_LOG_FORMAT": "json",  # dev.sh serve's default is text
            **overrides,
        }
        start = start_dev_sh if entry_point.startswith("bash") else start_python_m_app
        proc, url = start(log_path, env), f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, log_path)
        record = pools_record(log_path)
    finally:
        code = stop(proc)
    assert code == 0, log_path.read_text()
    assert record["pid"] != proc.pid  # logged by the worker, not by gunicorn's master
    variables = {name: overrides.get(name, value) for name, value in POOL_VARIABLES.items()}
    assert record["variables"] == variables
    assert_pools(record["pools"], expected_sizes({**clean_environ(), **overrides}))
