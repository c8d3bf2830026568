"""A short, bounded atheris run of the decode-path fuzz target (the long run: docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "tests" / "fuzz" / "fuzz_decode.py"
FUZZ_SECONDS = 20


def test_fuzz_decode_runs_clean(tmp_path):
    corpus = tmp_path / "corpus"
    run = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            f"-max_total_time={FUZZ_SECONDS}",
            "-timeout=10",
            "-rss_limit_mb=3072",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    assert "Done" in run.stderr and any(corpus.iterdir())
    assert not list(tmp_path.glob("crash-*")), run.stderr[-5000:]
