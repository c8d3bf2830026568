"""The gunicorn master's side of multiprocess metrics: the shared directory and dead workers.

prometheus_client decides, when a process first imports it, whether samples go to files in
``PROMETHEUS_MULTIPROC_DIR``; so the master sets that variable before it forks any worker and
never imports prometheus_client before then. The directory must start empty: files left by an
earlier run would be added to this run's counts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TEMP_PREFIX = "mms-metrics-"


def prepare_dir() -> tuple[Path, bool]:
    """An empty metrics directory exported to the workers; True when it is ours to remove.

    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` (say, a tmpfs mount) is emptied and kept;
    otherwise a fresh temporary directory is made.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        clear_dir(path)
        owned = False
    else:
        path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        owned = True
    os.environ[MULTIPROC_ENV] = str(path)
    return path, owned


def clear_dir(path: Path) -> None:
    """Remove the sample files of an earlier run."""
    for db in path.glob("*.db"):
        db.unlink(missing_ok=True)


def remove_dir(path: Path, owned: bool) -> None:
    """At shutdown: delete a directory we made, or empty one the operator gave."""
    if owned:
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_dir():
        clear_dir(path)


def mark_worker_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (queue depth, in-flight) from the sums."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
