"""The one place where exceptions become the contract's error JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from app.api.security.ratelimit import retry_after_s
from app.errors import RateLimited, ServiceError

log = logging.getLogger(__name__)

# Werkzeug's status codes mapped to the contract's error codes.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
EXTENSION = "error_formats"
# A protocol's own error body: (status, message, headers) -> the answer.
ErrorFormatter = Callable[[int, str, dict[str, str]], ResponseReturnValue]


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    """The contract's error body with ``status``; ``extra`` adds top-level keys."""
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    body = {**(extra or {}), "error": error, "request_id": g.get("request_id")}
    return jsonify(body), status, headers or {}


def register_error_format(app: Flask, prefix: str, formatter: ErrorFormatter) -> None:
    """Answer errors on paths under ``prefix`` that no view handled with ``formatter``.

    A protocol blueprint's own error handlers see only the requests routed to it; routing
    errors (unknown path, wrong method) and refusals of unrouted paths reach the app's.
    """
    app.extensions.setdefault(EXTENSION, {})[prefix.rstrip("/")] = formatter


def _formatter_for(app: Flask, path: str) -> ErrorFormatter | None:
    for prefix, formatter in app.extensions.get(EXTENSION, {}).items():
        if path == prefix or path.startswith(prefix + "/"):
            return formatter
    return None


def register_error_handlers(app: Flask) -> None:
    """Route every exception to the contract's JSON shape; unknown ones become a logged 500."""

    def answer(
        status: int, code: str, message: str, field: str | None, headers: dict[str, str]
    ) -> ResponseReturnValue:
        formatter = _formatter_for(app, request.path)
        if formatter is not None:
            return formatter(status, message, headers)
        return error_response(status, code, message, field, headers)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> ResponseReturnValue:
        return answer(exc.status, exc.code, exc.message, exc.field, exc.headers or {})

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded) -> ResponseReturnValue:
        return service_error(
            RateLimited(f"rate limit of {exc.description} exceeded", retry_after_s=retry_after_s())
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        headers = {}
        if getattr(exc, "valid_methods", None):
            # Sorted: Werkzeug gathers them in a set, whose order changes from run to run.
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        message = exc.description or exc.name
        if status == 413:
            message = (
                f"the request body is over its limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
            )
        code = HTTP_CODES.get(status, exc.name.lower().replace(" ", "_"))
        return answer(status, code, message, None, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        # A 500 is a bug: log everything, tell the client nothing about internals.
        log.exception("unhandled error for request %s", g.get("request_id"))
        return answer(
            500,
            "internal_error",
            f"internal error; see the server log for request {g.get('request_id')}",
            None,
            {},
        )
