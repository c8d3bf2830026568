"""Model listing and metadata."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("models", __name__)


@bp.get("/v1/models")
def list_models() -> ResponseReturnValue:
    """Every served model with its versions and readiness."""
    registry = current_app.extensions["registry"]
    return jsonify(models=registry.summary(), default_model=registry.settings.default_model)


@bp.get("/v1/models/<name>")
def model_metadata(name: str) -> ResponseReturnValue:
    """Inputs, outputs, versions and device of one model."""
    return jsonify(current_app.extensions["registry"].describe(name))
