"""GET /metrics: the Prometheus text format, every worker's samples added up."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of the service's metrics."""
    body, content_type = current_app.extensions["metrics"].exposition()
    return Response(body, content_type=content_type)
