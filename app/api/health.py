"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.api.errors import error_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Alive while the process can answer at all."""
    return jsonify(status="alive")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready once every model is loaded and warmed up."""
    registry = current_app.extensions["registry"]
    if registry.ready:
        return jsonify(status="ready")
    retry = {"Retry-After": str(registry.settings.retry_after_s)}
    if registry.warmup_error:
        return error_response(503, "warmup_failed", registry.warmup_error, headers=retry)
    return error_response(503, "not_ready", "models are still warming up", headers=retry)
