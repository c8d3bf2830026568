"""X-Request-ID: echoed when the client sends a sane one, otherwise made up; on every answer."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
# Echoing arbitrary header bytes would let a client inject into logs and other headers.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def install_request_id(app: Flask) -> None:
    """Give each request an id before any view or error handler runs."""

    @app.before_request
    def assign() -> None:
        sent = request.headers.get(HEADER, "")
        g.request_id = sent if _SAFE_ID.match(sent) else uuid.uuid4().hex

    @app.after_request
    def echo(response: Response) -> Response:
        if "request_id" not in g:  # errors raised before before_request (e.g. routing)
            g.request_id = uuid.uuid4().hex
        response.headers[HEADER] = g.request_id
        return response
