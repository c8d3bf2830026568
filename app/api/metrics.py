"""GET /metrics: the Prometheus text format, every worker's samples added up."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from app.api.openapi.document import operation, raw_body

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@operation(
    "Prometheus metrics",
    tags=["observability"],
    responses={200: raw_body("the Prometheus text exposition format", "text/plain")},
)
def metrics() -> Response:
    """Prometheus exposition of the service's metrics."""
    body, content_type = current_app.extensions["metrics"].exposition()
    return Response(body, content_type=content_type)
