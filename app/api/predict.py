"""The predict routes: parse the upload, run the model's predictor, serialise the answer."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.parsing import parse_predict_request
from app.observability.request_hooks import stage_timings

bp = Blueprint("predict", __name__)


@bp.post("/predict")
@bp.post("/v1/models/<name>/predict")
@bp.post("/v1/models/<name>/versions/<int:version>/predict")
def predict(name: str | None = None, version: int | None = None) -> ResponseReturnValue:
    """Labels and scores for one upload (multipart or JSON) or for a list of instances."""
    registry = current_app.extensions["lifecycle"].registry()
    predictor = registry.get(name, version)
    g.model, g.model_version = predictor.bundle.name, str(predictor.bundle.version)  # for the log
    with current_app.extensions["in_flight"].admit():
        parsed = parse_predict_request(request, registry.settings)
        results = predictor.predict(parsed.instances, parsed.top_k)
    g.timing_ms = stage_timings(results)
    head = {
        "request_id": g.request_id,
        "model": {"name": predictor.bundle.name, "version": str(predictor.bundle.version)},
    }
    if parsed.batched:
        return jsonify(**head, predictions=results)
    return jsonify(**head, **results[0])
