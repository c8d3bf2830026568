"""The Open Inference Protocol (KServe v2 / Triton HTTP) routes, with the protocol's error shape."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from app.api.body import JsonLimits, read_body
from app.api.openapi.document import json_body, operation
from app.api.openapi.schemas import (
    V2Error,
    V2InferRequest,
    V2InferResponse,
    V2Live,
    V2ModelMetadata,
    V2ModelNotReady,
    V2ModelReady,
    V2NotReady,
    V2Ready,
    V2ServerMetadata,
)
from app.api.v2.codec import (
    HEADER_LENGTH,
    datatype_of,
    decode_infer_request,
    encode_infer_response,
)
from app.api.v2.infer import infer as run_infer
from app.errors import NotFound as ModelNotFound
from app.errors import UnsupportedMediaType
from app.lifecycle import READY, Lifecycle
from app.model.bundle_files import parse_version

log = logging.getLogger(__name__)

bp = Blueprint("v2", __name__, url_prefix="/v2")

SERVER_NAME = "multimodal-inference-service"
SERVER_VERSION = "1.0"
EXTENSIONS = ["binary_tensor_data", "classification"]
PLATFORM = "tensorflow_keras"
TAGS = ["v2"]
# Every model takes text here; no "outputs", so the example answers whatever a model's are named.
INFER_EXAMPLE = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["seven"]}]}
BINARY_HEADER = {
    "name": HEADER_LENGTH,
    "in": "header",
    "required": False,
    "schema": {"type": "integer", "minimum": 0},
    "description": "binary tensor data: the length of the JSON header that starts the body",
}
INFER_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": V2InferRequest, "example": INFER_EXAMPLE},
        "application/octet-stream": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": f"binary tensor data: a V2InferRequest of {HEADER_LENGTH} "
                "bytes, then each input's bytes (parameters.binary_data_size)",
            }
        },
    },
}
INFER_ANSWER = {
    "description": "the output tensors; binary tensor data when an output asked for it",
    "content": {
        "application/json": {"schema": V2InferResponse},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
    "headers": {
        HEADER_LENGTH: {
            "description": "with binary outputs: the length of the JSON header (V2InferResponse)",
            "schema": {"type": "integer", "minimum": 0},
        },
        "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"},
    },
}


def _lifecycle() -> Lifecycle:
    return current_app.extensions["lifecycle"]


def _version(version: str | None) -> int | None:
    """A version from the URL; anything but a positive integer names no version (404)."""
    if version is None:
        return None
    number = parse_version(version)
    if number is None:
        raise ModelNotFound(f"version {version!r} not found: versions are positive integers")
    return number


@bp.get("")
@operation(
    "v2 server metadata",
    tags=TAGS,
    responses={200: json_body(V2ServerMetadata)},
    error_schema=V2Error,
)
def server_metadata() -> ResponseReturnValue:
    """Server name, version and the protocol extensions it supports."""
    return jsonify(name=SERVER_NAME, version=SERVER_VERSION, extensions=EXTENSIONS)


@bp.get("/health/live")
@operation("v2 liveness", tags=TAGS, responses={200: json_body(V2Live)}, error_schema=V2Error)
def live() -> ResponseReturnValue:
    """200 while the process answers, loading and draining included."""
    return jsonify(live=True)


@bp.get("/health/ready")
@operation(
    "v2 readiness",
    tags=TAGS,
    responses={
        200: json_body(V2Ready, "every model loaded and warmed up"),
        503: json_body(V2NotReady, "loading or draining; retry after Retry-After"),
    },
    error_schema=V2Error,
)
def ready() -> ResponseReturnValue:
    """200 once every model is loaded and warmed; 503 while loading and draining, like /readyz."""
    lifecycle = _lifecycle()
    if lifecycle.status != READY:
        return _error(
            503,
            f"server is not ready: {lifecycle.status}",
            {"Retry-After": str(lifecycle.retry_after_s)},
            ready=False,
        )
    return jsonify(ready=True)


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
@operation(
    "v2 model metadata",
    tags=TAGS,
    responses={200: json_body(V2ModelMetadata)},
    errors=(404, 503),
    error_schema=V2Error,
)
def model_metadata(name: str, version: str | None = None) -> ResponseReturnValue:
    """Model name, versions, platform, and each input and output tensor (-1: the batch axis)."""
    registry = _lifecycle().registry(ready=False)
    bundle = registry.get(name, _version(version)).bundle
    return jsonify(
        name=name,
        versions=[str(v) for v in registry.versions[name]],
        platform=PLATFORM,
        inputs=[_input_metadata(spec) for spec in bundle.inputs.values()],
        outputs=[
            {"name": out.name, "datatype": "FP32", "shape": [-1, *out.shape]}
            for out in bundle.outputs.values()
        ],
    )


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
@operation(
    "v2 model readiness",
    tags=TAGS,
    responses={
        200: json_body(V2ModelReady),
        503: json_body(V2ModelNotReady, "loading or draining; retry after Retry-After"),
    },
    errors=(404,),
    error_schema=V2Error,
)
def model_ready(name: str, version: str | None = None) -> ResponseReturnValue:
    """200 when the model (version) exists and the server is ready; else 404 or 503."""
    lifecycle = _lifecycle()
    lifecycle.registry(ready=False).get(name, _version(version))
    if lifecycle.status != READY:
        return _error(
            503,
            f"model {name!r} is not ready: server {lifecycle.status}",
            {"Retry-After": str(lifecycle.retry_after_s)},
            name=name,
            ready=False,
        )
    return jsonify(name=name, ready=True)


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
@operation(
    "v2 inference",
    tags=TAGS,
    request_body=INFER_BODY,
    parameters=[BINARY_HEADER],
    responses={200: INFER_ANSWER},
    errors=(400, 404, 413, 415, 422, 503),
    error_schema=V2Error,
)
def infer(name: str, version: str | None = None) -> ResponseReturnValue:
    """Run the model on v2 tensors: BYTES uploads by part or feature tensors by input name."""
    registry = _lifecycle().registry()
    predictor = registry.get(name, _version(version))
    g.model, g.model_version = predictor.bundle.name, str(predictor.bundle.version)  # for the log
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r}; send the body uncompressed")
    started = time.perf_counter()
    with current_app.extensions["in_flight"].admit():
        decoded = decode_infer_request(
            read_body(request),
            request.headers.get(HEADER_LENGTH),
            JsonLimits.of(registry.settings),
        )
        decoded_at = time.perf_counter()
        outputs, binary = run_infer(predictor, decoded, registry.settings)
    inferred_at = time.perf_counter()
    head: dict[str, Any] = {
        "model_name": predictor.bundle.name,
        "model_version": str(predictor.bundle.version),
    }
    if decoded.id is not None:
        head["id"] = decoded.id
    body, header_length = encode_infer_response(head, outputs, binary)
    g.timing_ms = _timings(started, decoded_at, inferred_at, time.perf_counter())
    if header_length is None:
        return Response(body, mimetype="application/json")
    return Response(
        body,
        mimetype="application/octet-stream",
        headers={HEADER_LENGTH: str(header_length)},
    )


def _timings(started: float, decoded: float, inferred: float, encoded: float) -> dict[str, float]:
    """The request's stages for its log line; "infer" is preprocessing, queue and model call."""
    return {
        "decode": round((decoded - started) * 1000.0, 3),
        "infer": round((inferred - decoded) * 1000.0, 3),
        "encode": round((encoded - inferred) * 1000.0, 3),
        "total": round((encoded - started) * 1000.0, 3),
    }


def _input_metadata(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "datatype": datatype_of(spec.dtype),
        "shape": [-1, *spec.shape],
        # Not in the protocol's schema: how to send raw uploads instead of features.
        "parameters": {
            "modality": spec.modality,
            "raw_input": {"name": spec.part, "datatype": "BYTES", "shape": [-1]},
            "accepted_formats": list(spec.preprocessor.accepted_formats),
            "missing": spec.missing,
        },
    }


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> ResponseReturnValue:
    return jsonify(**extra, error=message), status, headers or {}


def error_body(status: int, message: str, headers: dict[str, str]) -> ResponseReturnValue:
    """The protocol's {"error": message}: how the app's error handlers answer on /v2 paths."""
    return _error(status, message, headers)
