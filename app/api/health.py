"""Liveness and readiness for load balancers and Kubernetes probes; they never wait on a model."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.api.errors import error_response
from app.api.openapi.document import json_body, operation
from app.api.openapi.schemas import Health, NotReady
from app.lifecycle import READY

bp = Blueprint("health", __name__)

_WHY = {
    "loading": "models are still loading or warming up",
    "draining": "shutting down: finishing accepted requests, send new ones elsewhere",
}


@bp.get("/healthz")
@operation("Liveness", tags=["health"], responses={200: json_body(Health, "alive")})
def healthz() -> ResponseReturnValue:
    """Alive while the process can answer at all, loading and draining included."""
    return jsonify(status="alive")


@bp.get("/readyz")
@operation(
    "Readiness",
    tags=["health"],
    responses={
        200: json_body(Health, "every model loaded and warmed up"),
        503: json_body(NotReady, "loading or draining; retry after Retry-After"),
    },
)
def readyz() -> ResponseReturnValue:
    """200 once every model is loaded and warmed up; 503 while loading and while draining."""
    lifecycle = current_app.extensions["lifecycle"]
    status = lifecycle.status
    if status == READY:
        return jsonify(status=status)
    return error_response(
        503,
        status,
        _WHY[status],
        headers={"Retry-After": str(lifecycle.retry_after_s)},
        extra={"status": status},
    )
