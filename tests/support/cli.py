"""The command line, run as a user runs it: a subprocess of ``python -m app``."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.server import ROOT

CLI_TIMEOUT_S = 120


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` from the repository root, with MMS_* ``env`` on top."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
