"""The HTTP layer: blueprints, request ids and error handling."""

from __future__ import annotations

from flask import Flask

from app.api import docs, health, metrics, models, playground, predict, v2
from app.api.errors import register_error_format, register_error_handlers
from app.api.request_id import install_request_id


def register_api(app: Flask) -> None:
    """Attach every route and the error handlers to ``app``."""
    install_request_id(app)
    register_error_handlers(app)
    # Unknown /v2 paths and wrong methods never reach v2's own handlers: routing fails first.
    register_error_format(app, v2.bp.url_prefix, v2.error_body)
    for module in (health, models, predict, v2, docs, metrics, playground):
        app.register_blueprint(module.bp)
