"""A past commit of this repository, unpacked to serve beside the working tree in one bench run.

The targets against ``main`` (``bench.summary``) are ratios against ``main`` as it was before the
second round of performance work: absolute figures move between machines and with whatever else
runs, ratios measured in the same run do not.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from bench import servers

# ``main`` before the second round of performance work (ONNX Runtime inference and a cheaper JPEG
# decode among it): the commit the targets against main are ratios to.
MAIN_BEFORE_TUNING = "7e51cc2"
_DONE = ".unpacked"


def checkout(ref: str, cache_dir: Path) -> tuple[Path, str]:
    """``ref``'s tracked files under ``cache_dir`` (unpacked once per commit); (root, full sha)."""
    sha = _git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    root = cache_dir / f"against-{sha[:12]}"
    if not (root / _DONE).is_file():
        archive = subprocess.run(
            ["git", "archive", "--format=tar", sha],
            cwd=servers.ROOT,
            capture_output=True,
            check=True,
        ).stdout
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
        (root / _DONE).write_text(sha + "\n")
    return root, sha


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=servers.ROOT, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(
            f"git {' '.join(args)}: {result.stderr.strip()} (a shallow clone lacks old commits: "
            "fetch them, or pass --against with a commit it has, or --against '' to skip)"
        )
    return result.stdout
