"""The application factory: settings in, a Flask app out that answers probes at once."""

from __future__ import annotations

# First: the thread pools' sizes, before any import below loads numpy (and OpenBLAS's threads).
from app import threads  # noqa: F401  # isort: skip

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from app.admission import InFlightLimit
from app.api import register_api
from app.api.security import install_security
from app.lifecycle import Lifecycle, load_in_background
from app.observability.logging import configure_logging
from app.observability.multiprocess import MULTIPROC_ENV
from app.observability.request_hooks import install_request_hooks
from app.settings import Settings, load_settings

if TYPE_CHECKING:
    from app.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
# gunicorn's arbiter halts the whole server (exit status 3) when a worker exits with this status,
# instead of respawning a worker that can never start.
WORKER_BOOT_ERROR = 3
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, load_in_thread: bool = False) -> Flask:
    """Build the app and load its models.

    With ``load_in_thread`` (what ``wsgi.py`` does under gunicorn) the app is returned at once and
    answers health routes while a thread loads and warms the models; a failure there ends the
    process with gunicorn's boot-error status. Otherwise the models are loaded and warmed before
    this returns, and a broken bundle raises. Call it in the process that serves (a gunicorn
    worker), never before a fork: TensorFlow and CUDA state does not survive ``fork``.
    """
    started = time.perf_counter()
    settings = settings or load_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["settings"] = settings
    lifecycle = Lifecycle(
        retry_after_s=settings.retry_after_s, drain_delay_s=settings.drain_delay_s
    )
    app.extensions["lifecycle"] = lifecycle
    app.extensions["in_flight"] = InFlightLimit(
        settings.max_in_flight, retry_after_s=settings.retry_after_s
    )
    # Imported here, after the fork: prometheus_client must see PROMETHEUS_MULTIPROC_DIR first.
    from app.observability.metrics import Metrics

    metrics = Metrics(os.environ.get(MULTIPROC_ENV))
    app.extensions["metrics"] = metrics
    install_request_hooks(app, metrics)  # first, so that it times and logs every request
    register_api(app)
    install_security(app, settings)

    def load() -> None:
        _load_models(settings, lifecycle, started, metrics)

    if load_in_thread:
        load_in_background(load, on_failure=_stop_worker)
    else:
        load()
    return app


def _load_models(
    settings: Settings, lifecycle: Lifecycle, started: float, metrics: Metrics
) -> None:
    # Imported here: TensorFlow, Keras and the decoders take seconds to import, and the health
    # routes must answer meanwhile.
    from app.model.device import configure_tensorflow
    from app.model.registry import ModelRegistry

    device = configure_tensorflow(settings)
    tensorflow_s = time.perf_counter() - started
    registry = ModelRegistry(settings, settings.resolve_models_dir(ROOT), device, metrics)
    loaded_s = time.perf_counter() - started
    log.info(
        "start-up: tensorflow and device %.2f s, loading models %.2f s",
        tensorflow_s,
        loaded_s - tensorflow_s,
        extra={
            "event": "models_loaded",
            "device": device.description,
            "models": {name: registry.served[name] for name in registry.versions},
            "tensorflow_s": round(tensorflow_s, 3),
            "load_s": round(loaded_s - tensorflow_s, 3),
        },
    )
    lifecycle.set_loaded(registry)
    if settings.warmup:
        registry.warm_up()
    lifecycle.set_ready()
    ready_s = time.perf_counter() - started
    log.info(
        "ready %.2f s after start-up began (warm-up %.2f s)",
        ready_s,
        ready_s - loaded_s,
        extra={
            "event": "ready",
            "startup_s": round(ready_s, 3),
            "warmup_s": round(ready_s - loaded_s, 3),
        },
    )


def _stop_worker(exc: BaseException) -> None:
    """A model that cannot load or warm up stops the service loudly, not a never-ready worker."""
    from app.errors import BundleError

    # A bundle problem is the user's to fix and its message says all; a traceback would bury it.
    trace = None if isinstance(exc, BundleError) else exc
    log.critical("start-up failed, stopping: %s", exc, exc_info=trace)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(WORKER_BOOT_ERROR)
