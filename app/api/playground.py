"""The playground page at GET /: one static page that calls the public API from the browser."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory
from flask.typing import ResponseReturnValue

from app.api.openapi.document import operation, raw_body

STATIC = Path(__file__).resolve().parent.parent / "static" / "playground"
# Everything the page loads comes from this server; blob: and data: hold the user's own uploads
# and recordings for preview. The browser then refuses any other host, whatever a page edit adds.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

FILE_TYPES = ("text/html", "text/css", "text/javascript")
FILE_PARAMETER = {
    "name": "filename",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "examples": ["playground.js", "playground.css"]},
}

bp = Blueprint("playground", __name__)


@bp.get("/")
@operation(
    "The playground page",
    tags=["playground"],
    responses={200: raw_body("an HTML page that calls this API", "text/html")},
)
def index() -> ResponseReturnValue:
    """The playground: pick an image, an audio clip (or record one), type text, see the answer."""
    response = send_from_directory(STATIC, "index.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@bp.get("/playground/<path:filename>")
@operation(
    "A file of the playground page",
    tags=["playground"],
    responses={200: raw_body("the file", *FILE_TYPES)},
    errors=(404,),
    parameters=[FILE_PARAMETER],
)
def playground_file(filename: str) -> ResponseReturnValue:
    """The page's scripts and style sheet (any file of its folder; others are 404)."""
    return send_from_directory(STATIC, filename)
