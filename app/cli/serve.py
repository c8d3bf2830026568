"""``serve``: the README's run command (gunicorn, config/gunicorn.conf.py, wsgi:app) with flags."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8000


@click.command()
@click.option("--host", help=f"Address to bind (default {DEFAULT_HOST}, or MMS_BIND's).")
@click.option("--port", type=click.IntRange(0, 65535), help=f"Port (default {DEFAULT_PORT}).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (MMS_WORKERS).")
@click.option(
    "--models-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of bundles <name>/<version>/ (MMS_MODELS_DIR).",
)
def serve(host: str | None, port: int | None, workers: int | None, models_dir: Path | None) -> None:
    """Run the service under gunicorn, exactly as the README's run command does."""
    # Holds the thread pools' sizes too: importing app set them (app/threads.py).
    env = dict(os.environ)
    if host is not None or port is not None:
        env["MMS_BIND"] = _bind(host or DEFAULT_HOST, DEFAULT_PORT if port is None else port)
    if workers is not None:
        env["MMS_WORKERS"] = str(workers)
    if models_dir is not None:
        # Absolute, because gunicorn runs from the repository root, not from the caller's folder.
        env["MMS_MODELS_DIR"] = str(models_dir.resolve())
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "wsgi:app"]
    os.chdir(ROOT)  # wsgi.py is imported from here
    sys.stdout.flush()
    # exec, not a child: gunicorn's master becomes this process, so SIGTERM from a supervisor
    # reaches it directly and its exit status is ours.
    os.execve(sys.executable, argv, env)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
