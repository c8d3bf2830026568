"""Model listing and metadata."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.api.openapi.document import json_body, operation
from app.api.openapi.schemas import ModelList, ModelMetadata
from app.api.v1 import metadata
from app.lifecycle import LOADING, Lifecycle

bp = Blueprint("models", __name__)


def _lifecycle() -> Lifecycle:
    return current_app.extensions["lifecycle"]


@bp.get("/v1/models")
@operation("List the models", tags=["models"], responses={200: json_body(ModelList)}, errors=(503,))
def list_models() -> ResponseReturnValue:
    """Every served model with its versions and readiness."""
    lifecycle = _lifecycle()
    registry = lifecycle.registry(ready=False)
    return jsonify(
        models=metadata.model_list(registry, ready=lifecycle.status != LOADING),
        default_model=registry.settings.default_model,
    )


@bp.get("/v1/models/<name>")
@operation(
    "Metadata of one model",
    tags=["models"],
    responses={200: json_body(ModelMetadata)},
    errors=(404, 503),
)
def model_metadata(name: str) -> ResponseReturnValue:
    """Inputs, outputs, versions and device of one model."""
    lifecycle = _lifecycle()
    registry = lifecycle.registry(ready=False)
    return jsonify(metadata.model_metadata(registry, name, ready=lifecycle.status != LOADING))
