"""The HTTP layer: every blueprint in one table, request ids and the error formats.

One module per protocol (``v1/``, ``v2/``), each with thin views over its own codec; the pieces
both share stand beside them: bodies (``body.py``), errors, probes, metrics, the OpenAPI document
(``openapi/``) and access control (``security/``, installed by the factory).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from app.api import health, metrics, playground
from app.api.errors import register_error_format, register_error_handlers
from app.api.openapi import docs
from app.api.request_id import install_request_id
from app.api.v1 import models, predict
from app.api.v2 import routes as v2

# Every route of the service, by blueprint.
BLUEPRINTS: tuple[Blueprint, ...] = (
    health.bp,  # GET /healthz, /readyz: probes that never wait on a model
    models.bp,  # GET /v1/models, /v1/models/<name>: list and metadata
    predict.bp,  # POST /predict, /v1/models/<name>[/versions/<v>]/predict
    v2.bp,  # /v2/…: the Open Inference Protocol (metadata, health, infer)
    docs.bp,  # GET /openapi.json, /docs
    metrics.bp,  # GET /metrics: Prometheus
    playground.bp,  # GET /: the playground page
)


def register_api(app: Flask) -> None:
    """Attach every route and the error handlers to ``app``."""
    install_request_id(app)
    register_error_handlers(app)
    # Unknown /v2 paths and wrong methods never reach v2's own handlers: routing fails first.
    register_error_format(app, v2.bp.url_prefix, v2.error_body)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
