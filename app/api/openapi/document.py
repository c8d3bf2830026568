"""The OpenAPI 3.1 document, built from Flask's url_map and the operations declared on each view.

A view declares what it takes and answers next to its route::

    @bp.get("/v1/models/<name>")
    @operation("Metadata of one model", tags=["models"],
               responses={200: json_body(ModelMetadata)}, errors=(404, 503))
    def model_metadata(name): ...

Paths, methods and path parameters come from the rules Flask routes by, so the document cannot
name a route that does not exist; a rule whose view declares nothing is logged and left out, and
a test fails on it. Schemas are the typed dicts of ``app.api.openapi.schemas`` (or any type pydantic
can describe), placed anywhere in a declaration and turned into ``$ref``s here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from apispec import APISpec
from flask import Flask
from pydantic import TypeAdapter

from app.api.openapi.schemas import ErrorBody
from app.api.security.auth import is_open_path
from app.settings import Settings

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__openapi__"
REF_TEMPLATE = "#/components/schemas/{model}"
SKIPPED_METHODS = {"HEAD", "OPTIONS"}  # Flask adds these to every rule
# Werkzeug rule variables, <name> or <converter:name> or <converter(args):name>.
RULE_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
CONVERTER_SCHEMAS = {
    "int": {"type": "integer", "minimum": 1},
    "float": {"type": "number"},
    "path": {"type": "string", "minLength": 1},
}
MODEL_PARAMETER = "name"  # <name> in a rule is a model name on every route
SEGMENT_SCHEMA = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
ERROR_MEANINGS = {
    400: "malformed request, unknown part, bad top_k",
    401: "an API key is required and is missing or wrong",
    404: "unknown route, model or version",
    413: "the body, or one part, is over its limit",
    415: "unsupported Content-Type, or a part whose bytes are not an accepted format",
    422: "corrupt, empty or unusable input; no modality; a required modality missing",
    429: "over the rate limit",
    503: "not ready, draining, overloaded or queue full",
}
RETRY_STATUSES = {429, 503}
# The request bodies that take parts; a bundle's own part names are added to them.
PART_BODIES = ("PredictInstance", "PredictJson", "PredictForm", "PredictUrlencoded")
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer KEY"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def operation(
    summary: str,
    *,
    responses: Mapping[int, Mapping[str, Any]],
    errors: Iterable[int] = (),
    tags: Iterable[str] = (),
    description: str | None = None,
    request_body: Mapping[str, Any] | None = None,
    parameters: Iterable[Mapping[str, Any]] = (),
    error_schema: Any = ErrorBody,
) -> Callable[[F], F]:
    """Declare a view's OpenAPI operation; ``errors`` are statuses answered in ``error_schema``."""

    def mark(view: F) -> F:
        setattr(
            view,
            ATTRIBUTE,
            {
                "summary": summary,
                "description": description or (view.__doc__ or "").strip(),
                "tags": list(tags),
                "responses": dict(responses),
                "errors": tuple(errors),
                "request_body": request_body,
                "parameters": list(parameters),
                "error_schema": error_schema,
            },
        )
        return view

    return mark


def json_body(schema: Any, description: str = "OK") -> dict[str, Any]:
    """A response (or request body) of JSON in ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def raw_body(description: str, *media_types: str, **schema: Any) -> dict[str, Any]:
    """A response (or request body) of non-JSON ``media_types``; a string unless ``schema``."""
    return {
        "description": description,
        "content": {media: {"schema": schema or {"type": "string"}} for media in media_types},
    }


def query(name: str, schema: Any, description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def build_document(
    app: Flask, settings: Settings, parts: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented rule in ``app.url_map``.

    ``parts`` (part name -> modality, over the served models) adds the bundles' own part names
    to the predict bodies beside the default text, image and audio.
    """
    auth_on = bool(settings.api_keys or settings.api_keys_file)
    spec = APISpec(
        title="Multimodal inference service",
        version="1",
        openapi_version="3.1.0",
        info={"description": "Predictions from text, image and audio uploads."},
    )
    if auth_on:
        for name, scheme in SECURITY_SCHEMES.items():
            spec.components.security_scheme(name, scheme)
        spec.options["security"] = [{name: []} for name in SECURITY_SCHEMES]
    operations: dict[str, dict[str, Any]] = {}
    path_parameters: dict[str, list[dict[str, Any]]] = {}
    rules_per_endpoint: dict[str, int] = {}
    for rule in app.url_map.iter_rules():
        rules_per_endpoint[rule.endpoint] = rules_per_endpoint.get(rule.endpoint, 0) + 1
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        declared = getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None)
        if declared is None:
            log.warning("route %s (%s) has no OpenAPI operation", rule.rule, rule.endpoint)
            continue
        path = RULE_VARIABLE.sub(r"{\g<name>}", rule.rule)
        path_parameters[path] = _path_parameters(rule.rule, settings)
        open_path = is_open_path(path, settings.open_paths)
        limited = bool(settings.rate_limit.strip()) and not open_path
        op_id = rule.endpoint.rsplit(".", 1)[-1]
        if rules_per_endpoint[rule.endpoint] > 1 and rule.arguments:
            op_id += "_by_" + "_".join(sorted(rule.arguments))
        for method in sorted(rule.methods - SKIPPED_METHODS):
            op = _operation(declared, auth_on and not open_path, limited)
            op["operationId"] = (
                op_id if len(rule.methods - SKIPPED_METHODS) == 1 else (f"{op_id}_{method.lower()}")
            )
            if auth_on and open_path:
                op["security"] = []
            operations.setdefault(path, {})[method.lower()] = op
    schemas = _SchemaCollector()
    for path, ops in operations.items():
        spec.path(
            path=path,
            operations=schemas.resolve(ops),
            parameters=path_parameters[path] or None,
        )
    for name, schema in schemas.definitions().items():
        if name in PART_BODIES:
            schema = _with_parts(schema, parts or {})
        spec.components.schema(name, schema)
    _add_headers(spec)
    return spec.to_dict()


def _with_parts(schema: dict[str, Any], parts: Mapping[str, str]) -> dict[str, Any]:
    """A predict body's schema with a property per extra part, shaped as its modality's."""
    properties = dict(schema.get("properties", {}))
    for part, modality in parts.items():
        if part not in properties and modality in properties:
            properties[part] = properties[modality]
    return {**schema, "properties": properties}


def _operation(declared: dict[str, Any], needs_key: bool, limited: bool) -> dict[str, Any]:
    responses = {str(status): dict(r) for status, r in declared["responses"].items()}
    statuses = set(declared["errors"])
    if needs_key:
        statuses.add(401)
    if limited:
        statuses.add(429)
    for status in sorted(statuses):
        if str(status) in responses:
            continue
        responses[str(status)] = {
            **json_body(declared["error_schema"], ERROR_MEANINGS.get(status, "error")),
            "headers": _headers(status),
        }
    for status, response in responses.items():
        response.setdefault("headers", _headers(int(status)))
    op: dict[str, Any] = {
        "summary": declared["summary"],
        "tags": declared["tags"],
        "responses": responses,
    }
    if declared["description"]:
        op["description"] = declared["description"]
    if declared["parameters"]:
        op["parameters"] = declared["parameters"]
    if declared["request_body"]:
        op["requestBody"] = dict(declared["request_body"])
    return op


def _headers(status: int) -> dict[str, Any]:
    headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
    if status in RETRY_STATUSES:
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return headers


def _add_headers(spec: APISpec) -> None:
    spec.components.header(
        "X-Request-ID",
        {
            "description": "the request's id, echoed when the client sent one",
            "schema": {"type": "string"},
        },
    )
    spec.components.header(
        "Retry-After",
        {"description": "seconds to wait before retrying", "schema": {"type": "string"}},
    )


def _path_parameters(rule: str, settings: Settings) -> list[dict[str, Any]]:
    parameters = []
    for m in RULE_VARIABLE.finditer(rule):
        schema = dict(CONVERTER_SCHEMAS.get(m["converter"] or "", SEGMENT_SCHEMA))
        if m["name"] == MODEL_PARAMETER:
            # A name that exists, for "Try it out" and for generated tests to get past the 404.
            schema["examples"] = list(dict.fromkeys((settings.default_model, *settings.models)))
        parameters.append({"name": m["name"], "in": "path", "required": True, "schema": schema})
    return parameters


class _SchemaCollector:
    """Replaces types in declarations by $refs and gathers their JSON Schemas in one pass."""

    def __init__(self) -> None:
        self._types: dict[Any, None] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(v) for v in value]
        if isinstance(value, type):
            self._types[value] = None
            return {"$ref": REF_TEMPLATE.format(model=value.__name__)}
        return value

    def definitions(self) -> dict[str, Any]:
        if not self._types:
            return {}
        adapters = [(t, "validation", TypeAdapter(t)) for t in self._types]
        _, top = TypeAdapter.json_schemas(adapters, ref_template=REF_TEMPLATE)
        return dict(sorted(top.get("$defs", {}).items()))
