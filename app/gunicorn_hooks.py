"""gunicorn server hooks that give a worker a graceful shutdown (``config/gunicorn.conf.py``).

On SIGTERM gunicorn's worker stops accepting at once and a balancer polling /readyz never sees a
503: it learns of the shutdown from refused connections. Here SIGTERM first turns readiness to
draining while the worker keeps accepting and serving for ``drain_delay_s``; then the worker
accepts what is already in the listen backlog, closes its listening sockets (so later clients get
a clean "connection refused" that a balancer retries elsewhere, not a reset after the kernel
queued them), and gunicorn's own graceful stop lets every accepted request finish.
"""

from __future__ import annotations

import logging
import select
import signal
import threading
from pathlib import Path
from typing import Any

from app.observability.multiprocess import mark_worker_dead, prepare_dir, remove_dir
from app.threads import log_thread_pools

log = logging.getLogger(__name__)
# How long a worker's thread waits for the models before giving up on logging its pools.
POOLS_LOG_WAIT_S = 3600.0


def post_worker_init(worker: Any) -> None:
    """Replace the worker's SIGTERM handler with drain-then-stop; log its pools once ready."""
    lifecycle = _lifecycle(worker)
    if lifecycle is None:  # another WSGI app run with this config (the bench's baseline)
        log_thread_pools()
        return
    _log_thread_pools_when_ready(lifecycle)
    delay = lifecycle.drain_delay_s
    if delay >= worker.cfg.graceful_timeout:
        log.warning(
            "drain_delay_s %.1f is not below gunicorn's graceful_timeout %d: requests still "
            "running when the drain ends will be killed",
            delay,
            worker.cfg.graceful_timeout,
        )
    stop = worker.handle_exit

    def close_listeners_and_stop(sig: int, frame: Any) -> None:
        # Runs on the worker's main thread (its event loop), which owns the listeners.
        worker.set_accept_enabled(False)
        for listener in worker.sockets:
            while select.select([listener], [], [], 0)[0]:
                worker.accept(listener)
            listener.close()
        stop(sig, frame)

    def end_drain(sig: int, frame: Any) -> None:
        log.info("drain over: closing the listening sockets, finishing accepted requests")
        if hasattr(worker, "method_queue"):  # gthread, the configured worker class
            worker.method_queue.defer(close_listeners_and_stop, sig, frame)
        else:
            stop(sig, frame)

    def drain_then_stop(sig: int, frame: Any) -> None:
        if not lifecycle.start_draining():
            return
        log.info("SIGTERM: readiness is now draining; serving on for %.1f s, then stopping", delay)
        timer = threading.Timer(delay, end_drain, args=(sig, frame))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, drain_then_stop)


def worker_exit(server: Any, worker: Any) -> None:
    """After the last accepted request: let the batchers finish what they hold."""
    lifecycle = _lifecycle(worker)
    if lifecycle is not None:
        lifecycle.close()


def _log_thread_pools_when_ready(lifecycle: Any) -> None:
    # Once every model is loaded and warmed, every library the worker uses has started its pool.
    def log_when_ready() -> None:
        if lifecycle.wait_ready(POOLS_LOG_WAIT_S):
            log_thread_pools(p.compiled for p in lifecycle.registry().served_predictors())

    threading.Thread(target=log_when_ready, name="thread-pools-log", daemon=True).start()


def _lifecycle(worker: Any) -> Any:
    return getattr(getattr(worker, "wsgi", None), "extensions", {}).get("lifecycle")


def on_starting(server: Any) -> None:
    """In the master, before any fork: a fresh, empty directory for the workers' metrics."""
    path, owned = prepare_dir()
    server.metrics_dir = (path, owned)
    server.log.info("metrics: multiprocess directory %s", path)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges stop counting in the sums."""
    mark_worker_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The master stops: the metrics files go with it."""
    metrics_dir: tuple[Path, bool] | None = getattr(server, "metrics_dir", None)
    if metrics_dir is not None:
        remove_dir(*metrics_dir)
        server.log.info("metrics: removed the samples in %s", metrics_dir[0])
