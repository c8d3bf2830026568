"""The predict routes: parse the upload, run the model's predictor, serialise the answer."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.openapi.document import json_body, operation, query
from app.api.openapi.schemas import (
    PredictForm,
    PredictInstancesJson,
    PredictInstancesResponse,
    PredictJson,
    PredictResponse,
    PredictUrlencoded,
)
from app.api.v1.parsing import parse_predict_request
from app.observability.request_hooks import stage_timings

bp = Blueprint("predict", __name__)
PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": PredictForm},
        "application/json": {"schema": {"anyOf": [PredictJson, PredictInstancesJson]}},
        "application/x-www-form-urlencoded": {"schema": PredictUrlencoded},
    },
}


@bp.post("/predict")
@bp.post("/v1/models/<name>/predict")
@bp.post("/v1/models/<name>/versions/<int:version>/predict")
@operation(
    "Predict from text, an image and/or an audio clip",
    tags=["predict"],
    request_body=PREDICT_BODY,
    parameters=[query("top_k", {"type": "integer", "minimum": 1}, "labels per output; default 5")],
    responses={
        200: json_body(
            {"anyOf": [PredictResponse, PredictInstancesResponse]},
            "one prediction, or one per instance when the body had 'instances'",
        )
    },
    errors=(400, 404, 413, 415, 422, 503),
)
def predict(name: str | None = None, version: int | None = None) -> ResponseReturnValue:
    """Labels and scores for one upload (multipart or JSON) or for a list of instances."""
    registry = current_app.extensions["lifecycle"].registry()
    predictor = registry.get(name, version)
    g.model, g.model_version = predictor.bundle.name, str(predictor.bundle.version)  # for the log
    with current_app.extensions["in_flight"].admit():
        parsed = parse_predict_request(request, registry.settings, predictor.part_modalities)
        results = predictor.predict(parsed.instances, parsed.top_k)
    g.timing_ms = stage_timings(results)
    head = {
        "request_id": g.request_id,
        "model": {"name": predictor.bundle.name, "version": str(predictor.bundle.version)},
    }
    if parsed.batched:
        return jsonify(**head, predictions=results)
    return jsonify(**head, **results[0])
