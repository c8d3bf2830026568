"""What every bench command shares: where the bench bundle and results live, the environment the
helper processes run with, and building the bundle (in a subprocess, keeping TensorFlow out of
the load generator)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench import servers

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH_DIR / ".cache"
DEFAULT_RESULTS = BENCH_DIR / "results"
BUNDLE_NAME = "bench"
# Beside a clean environment, only what the product's own start sets (dev.sh and the image quiet
# TensorFlow's C++ log): thread pools are the service's business, as a user's plain start gets them.
PROCESS_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def bundle_version_dir(models_dir: Path) -> Path:
    """Where the bench bundle's version 1 lies under ``models_dir``."""
    return models_dir / BUNDLE_NAME / "1"


def build_bundle(models_dir: Path, log_path: Path) -> float:
    """Build the bench bundle into ``models_dir`` in a subprocess; the seconds it took."""
    started = time.monotonic()
    run_logged([sys.executable, "-m", "bench.build_bench_bundle", str(models_dir)], log_path)
    return round(time.monotonic() - started, 2)


def ensure_bundle(models_dir: Path, log_path: Path, *, rebuild: bool = False) -> float | None:
    """Build the bench bundle unless it is there (or ``rebuild``); the build's seconds, if any.

    A rebuilt model file (new save date inside) is a new model to the service: its first start
    exports it to ONNX again. Reusing the bundle measures the start a deployed model has.
    """
    if rebuild or not (bundle_version_dir(models_dir) / "model.keras").is_file():
        return build_bundle(models_dir, log_path)
    return None


def run_logged(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
    """Run a Python helper, its output into ``log_path``; raise with the log's tail if it fails.

    ``env`` defaults to the servers' environment: a clean one plus ``PROCESS_ENV``.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if env is None:
        env = {**servers.clean_environ(), **PROCESS_ENV}
    with open(log_path, "wb") as log:
        code = subprocess.run(command, cwd=servers.ROOT, env=env, stdout=log, stderr=log).returncode
    if code:
        raise RuntimeError(f"{' '.join(command[1:4])} failed ({code}):\n{servers.tail(log_path)}")


def inherited_env() -> dict[str, str]:
    """This process's environment plus ``PROCESS_ENV`` (for in-process measurements)."""
    return {**os.environ, **PROCESS_ENV}
