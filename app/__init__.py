"""The application factory: settings in, a ready-to-serve Flask app out."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from flask import Flask

from app.api import register_api
from app.api.security import install_security
from app.registry import ModelRegistry
from app.runtime import configure_tensorflow
from app.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, warm_up_in_background: bool = True) -> Flask:
    """Build the app and load its models; warm-up runs in a thread so /healthz answers meanwhile.

    Call it in the process that serves (a gunicorn worker), never before a fork: TensorFlow and
    CUDA state does not survive ``fork``.
    """
    started = time.perf_counter()
    settings = settings or load_settings()
    if not logging.getLogger().handlers:  # under gunicorn nothing has configured logging yet
        logging.basicConfig(
            format="%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
        )
    logging.getLogger("app").setLevel(settings.log_level.upper())
    app = Flask(__name__)
    app.json.sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["settings"] = settings
    device = configure_tensorflow(settings)
    tensorflow_s = time.perf_counter() - started
    registry = ModelRegistry(settings, settings.resolve_models_dir(ROOT), device)
    log.info(
        "start-up: tensorflow and device %.2f s, loading models %.2f s",
        tensorflow_s,
        time.perf_counter() - started - tensorflow_s,
    )
    app.extensions["registry"] = registry
    register_api(app)
    install_security(app, settings)
    if not settings.warmup:
        registry.mark_ready()
    elif warm_up_in_background:
        threading.Thread(
            target=registry.warm_up, args=(started,), name="warm-up", daemon=True
        ).start()
    else:
        registry.warm_up(started)
    return app
