"""gunicorn server hooks that give a worker a graceful shutdown (``config/gunicorn.conf.py``).

On SIGTERM gunicorn's worker stops accepting at once and a balancer polling /readyz never sees a
503: it learns of the shutdown from refused connections. Here SIGTERM first turns readiness to
draining while the worker keeps accepting and serving for ``drain_delay_s``; only then does
gunicorn's own graceful stop begin (no new connections, accepted ones finish).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


def post_worker_init(worker: Any) -> None:
    """Replace the worker's SIGTERM handler with drain-then-stop."""
    lifecycle = worker.wsgi.extensions["lifecycle"]
    delay = lifecycle.drain_delay_s
    if delay >= worker.cfg.graceful_timeout:
        log.warning(
            "drain_delay_s %.1f is not below gunicorn's graceful_timeout %d: requests still "
            "running when the drain ends will be killed",
            delay,
            worker.cfg.graceful_timeout,
        )
    stop = worker.handle_exit

    def drain_then_stop(sig: int, frame: Any) -> None:
        if not lifecycle.start_draining():
            return
        log.info("SIGTERM: readiness is now draining; serving on for %.1f s, then stopping", delay)
        timer = threading.Timer(delay, stop, args=(sig, frame))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, drain_then_stop)


def worker_exit(server: Any, worker: Any) -> None:
    """After the last accepted request: let the batchers finish what they hold."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        app.extensions["lifecycle"].close()
