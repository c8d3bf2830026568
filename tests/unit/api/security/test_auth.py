"""API keys through Flask's test client: 401s, both headers, several keys, live rotation, logs."""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import pytest

from app import create_app
from app.api.security.auth import ApiKeys, is_open_path, read_keys_file
from app.errors import Unauthorized
from app.settings import load_settings

KEY = "k-test-9f2c4e7a1b"
OTHER_KEY = "k-test-other-55d0"


@pytest.fixture(scope="module")
def make_app(settings):
    """create_app over the tiny bundle with ``changes`` to the settings; closed after the module."""
    apps = []

    def make(**changes):
        app = create_app(dataclasses.replace(settings, models=("tiny",), warmup=False, **changes))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["lifecycle"].close()


@pytest.fixture(scope="module")
def keyed(make_app):
    return make_app(api_keys=(KEY, OTHER_KEY)).test_client()


def _assert_unauthorized(resp):
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    body = resp.get_json()
    assert body["error"]["code"] == "unauthorized"
    assert body["request_id"] == resp.headers["X-Request-ID"]


def test_no_key_is_401_json_with_www_authenticate(keyed):
    resp = keyed.get("/v1/models")
    _assert_unauthorized(resp)
    assert "Authorization: Bearer" in resp.get_json()["error"]["message"]
    _assert_unauthorized(keyed.post("/predict", json={"text": "the cat"}))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-the-key"},
        {"X-API-Key": "not-the-key"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": f"Bearer {KEY[:-1]}"},
        {"Authorization": f"Basic {KEY}"},  # the right key under the wrong scheme
        {"Authorization": "Bearer "},
    ],
    ids=["bearer", "x-api-key", "longer", "prefix", "basic", "empty"],
)
def test_wrong_key_is_401_and_not_echoed(keyed, headers):
    resp = keyed.get("/v1/models", headers=headers)
    _assert_unauthorized(resp)
    assert "not-the-key" not in resp.get_data(as_text=True)


def test_unknown_route_without_key_is_401_not_404(keyed):
    _assert_unauthorized(keyed.get("/no/such/route"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"bearer  {KEY} "},
        {"X-API-Key": KEY},
        {"Authorization": f"Bearer {OTHER_KEY}"},
        {"X-API-Key": OTHER_KEY},
    ],
    ids=["bearer", "bearer-lower-case", "x-api-key", "second-bearer", "second-x-api-key"],
)
def test_right_key_is_200(keyed, headers):
    assert keyed.get("/v1/models", headers=headers).status_code == 200
    resp = keyed.post("/predict", json={"text": "the cat"}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["model"]["name"] == "tiny"


def test_health_routes_stay_open(keyed):
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200
    assert keyed.get("/v2/health/live").status_code == 200
    # Open paths skip auth whether or not a route exists there yet: 404, not 401.
    assert keyed.get("/metrics").status_code == 200  # open by default


def test_open_paths_are_a_setting(make_app):
    client = make_app(api_keys=(KEY,), open_paths=("/healthz", "/v1/*")).test_client()
    assert client.get("/v1/models").status_code == 200
    _assert_unauthorized(client.get("/readyz"))


def test_keys_from_the_environment(settings, make_app):
    env = load_settings(environ={"MMS_API_KEYS": f" {KEY} , {OTHER_KEY} "})
    assert env.api_keys == (KEY, OTHER_KEY)
    client = make_app(api_keys=env.api_keys).test_client()
    for key in (KEY, OTHER_KEY):
        assert client.get("/v1/models", headers={"X-API-Key": key}).status_code == 200


def test_keys_file_rotates_without_restart(tmp_path, make_app):
    path = tmp_path / "keys.txt"
    path.write_text(f"# rotated weekly\n\n  {KEY}  \n# {OTHER_KEY} is commented out\n")
    env = load_settings(environ={"MMS_API_KEYS_FILE": str(path)})
    client = make_app(api_keys_file=env.api_keys_file).test_client()
    assert client.get("/v1/models", headers={"X-API-Key": KEY}).status_code == 200
    _assert_unauthorized(client.get("/v1/models", headers={"X-API-Key": OTHER_KEY}))

    path.write_text(f"{OTHER_KEY}\n")
    time.sleep(1.1)  # the file is looked at no more than once a second
    assert client.get("/v1/models", headers={"X-API-Key": OTHER_KEY}).status_code == 200
    _assert_unauthorized(client.get("/v1/models", headers={"X-API-Key": KEY}))


def test_keys_file_is_checked_at_most_once_per_interval(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("first\n")
    keys = ApiKeys(path=path, reload_interval_s=3600)
    assert keys.match("first") is not None
    path.write_text("second\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert keys.match("second") is None  # within the interval: the old keys still hold


def test_keys_file_that_vanishes_keeps_the_last_keys(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("kept\n")
    keys = ApiKeys(path=path, reload_interval_s=0)
    path.unlink()
    assert keys.match("kept") is not None


def test_missing_keys_file_stops_the_start(tmp_path, make_app):
    with pytest.raises(ValueError, match="keys file .*nope.txt cannot be read"):
        make_app(api_keys_file=str(tmp_path / "nope.txt"))


def test_empty_keys_file_refuses_everyone(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("# nobody yet\n")
    keys = ApiKeys(path=path)
    assert keys.enabled and read_keys_file(path) == []
    assert keys.match("") is None and keys.match("# nobody yet") is None


def test_no_keys_means_auth_off(make_app):
    assert not ApiKeys().enabled
    assert make_app().test_client().get("/v1/models").status_code == 200


def test_match_names_keys_by_a_one_way_id():
    keys = ApiKeys([KEY, OTHER_KEY])
    ids = {keys.match(KEY), keys.match(OTHER_KEY)}
    assert len(ids) == 2 and None not in ids
    assert not any(KEY in i or OTHER_KEY in i for i in ids)
    assert keys.match("é-not-ascii") is None


def test_is_open_path():
    paths = ("/healthz", "/v2/health/*")
    assert is_open_path("/healthz", paths) and is_open_path("/v2/health/ready", paths)
    assert not is_open_path("/healthz/x", paths) and not is_open_path("/v2/models", paths)


def test_unauthorized_carries_the_header():
    assert Unauthorized("x").headers == {"WWW-Authenticate": "Bearer"}


def test_keys_never_reach_the_logs(make_app, caplog):
    client = make_app(api_keys=(KEY,), rate_limit="1/minute").test_client()
    wrong = "k-wrong-3e8d21"
    with caplog.at_level(logging.DEBUG):
        assert client.get("/v1/models", headers={"X-API-Key": wrong}).status_code == 401
        bearer = {"Authorization": f"Bearer {KEY}"}
        assert client.get("/v1/models", headers=bearer).status_code == 200
        assert client.get("/v1/models", headers={"X-API-Key": KEY}).status_code == 429
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "exceeded" in logged  # flask-limiter did log the breach, under the key's id
    assert KEY not in logged and wrong not in logged
