"""GET /openapi.json and GET /docs: the API's description and a page rendering it, offline.

Swagger UI's files come from the installed ``swagger-ui-bundle-v2`` package and are served here,
so the page needs nothing from outside (no CDN). Its links are relative, so it also works behind
a proxy that mounts the service under a path prefix.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path

from app.api.openapi.document import build_document, json_body, operation
from app.errors import NotFound, ServiceError

bp = Blueprint("docs", __name__)
EXTENSION = "openapi_document"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Multimodal inference service: API</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script src="docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "BaseLayout"
    });
  </script>
</body>
</html>
"""
HTML = {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}


@bp.get("/openapi.json")
@operation(
    "This document",
    tags=["documentation"],
    responses={200: json_body({"type": "object"}, "an OpenAPI 3.1 document")},
)
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI 3.1 document of every route of this service."""
    # Built once per app once the models are loaded: the routes, settings and the bundles' part
    # names it describes do not change after that.
    document = current_app.extensions.get(EXTENSION)
    if document is None:
        parts = served_parts(current_app.extensions["lifecycle"])
        document = build_document(current_app, current_app.extensions["settings"], parts)
        if parts is not None:
            current_app.extensions[EXTENSION] = document
    return jsonify(document)


def served_parts(lifecycle: Any) -> dict[str, str] | None:
    """Part name -> modality over the served models; None while they are still loading."""
    try:
        registry = lifecycle.registry(ready=False)
    except ServiceError:
        return None
    return {
        name: part.modality
        for predictor in registry.served_predictors()
        for name, part in predictor.bundle.parts.items()
    }


@bp.get("/docs")
@operation(
    "Interactive API documentation (Swagger UI)", tags=["documentation"], responses={200: HTML}
)
def docs_page() -> ResponseReturnValue:
    """Swagger UI over /openapi.json; works offline."""
    return Response(PAGE, mimetype="text/html")


@bp.get("/docs/assets/<filename>")
@operation(
    "A file of the documentation page",
    tags=["documentation"],
    responses={
        200: {
            "description": "the file",
            "content": {
                "text/css": {"schema": {"type": "string"}},
                "text/javascript": {"schema": {"type": "string"}},
            },
        }
    },
    errors=(404,),
    parameters=[{"name": "filename", "in": "path", "required": True, "schema": {"enum": ASSETS}}],
)
def docs_asset(filename: str) -> ResponseReturnValue:
    """Swagger UI's CSS and JavaScript, from the installed package."""
    if filename not in ASSETS:
        raise NotFound(f"no documentation asset {filename!r}; assets: {', '.join(ASSETS)}")
    return send_from_directory(str(swagger_ui_path), filename, max_age=3600)
