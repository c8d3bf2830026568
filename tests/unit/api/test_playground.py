"""The playground's files via Flask's test client: served, open with API keys, self-contained."""

from __future__ import annotations

import dataclasses
import re

import pytest

from app import create_app
from app.api.playground import STATIC

KEY = "k-playground-3e1d"
# The page's scripts in the order it loads them (playground.js first: the others use its state).
SCRIPTS = ("playground.js", "parts.js", "answer.js")
ASSETS = (*SCRIPTS, "playground.css")


@pytest.fixture(scope="module")
def keyed(settings):
    app = create_app(dataclasses.replace(settings, models=("tiny",), warmup=False, api_keys=(KEY,)))
    yield app.test_client()
    app.extensions["lifecycle"].close()


def _get(client, path: str, **kwargs):
    """A GET whose file-backed body is read and closed (an open file would warn)."""
    with client.get(path, **kwargs) as resp:
        resp.get_data()
        return resp


def test_page_and_assets_are_served(client):
    resp = _get(client, "/")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    tags = re.findall(rb'<script src="/playground/([^"]+)" defer></script>', resp.data)
    assert tags == [name.encode() for name in SCRIPTS]
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    for name in ASSETS:
        asset = _get(client, f"/playground/{name}")
        assert asset.status_code == 200, name
        assert asset.mimetype == ("text/css" if name.endswith(".css") else "text/javascript")
    assert _get(client, "/playground/nothing.js").status_code == 404
    assert client.post("/").status_code == 405


def test_page_is_open_when_api_keys_are_on(keyed):
    assert _get(keyed, "/").status_code == 200
    for name in ASSETS:
        assert _get(keyed, f"/playground/{name}").status_code == 200
    # ... while what the page calls still needs the key, which it sends as X-API-Key.
    assert keyed.get("/v1/models").status_code == 401
    assert keyed.get("/v1/models", headers={"X-API-Key": KEY}).status_code == 200


def test_page_loads_every_script_of_its_folder():
    assert sorted(path.name for path in STATIC.glob("*.js")) == sorted(SCRIPTS)


def test_no_file_names_another_host():
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
