"""The playground page at GET /: one static page that calls the public API from the browser."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory
from flask.typing import ResponseReturnValue

STATIC = Path(__file__).resolve().parent.parent / "static" / "playground"
# Everything the page loads comes from this server; blob: and data: hold the user's own uploads
# and recordings for preview. The browser then refuses any other host, whatever a page edit adds.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

bp = Blueprint("playground", __name__, static_folder=STATIC, static_url_path="/playground")


@bp.get("/")
def index() -> ResponseReturnValue:
    """The playground: pick an image, an audio clip (or record one), type text, see the answer."""
    response = send_from_directory(STATIC, "index.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
