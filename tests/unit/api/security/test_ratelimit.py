"""Rate limits through Flask's test client: 429 in the contract's shape, a counter per key."""

from __future__ import annotations

import dataclasses

import pytest

from app import create_app

KEY_A = "k-rate-a-41c9"
KEY_B = "k-rate-b-77e2"


@pytest.fixture(scope="module")
def make_client(settings):
    """A test client of a fresh app (fresh in-memory counters) with ``changes`` to the settings."""
    apps = []

    def make(**changes):
        app = create_app(dataclasses.replace(settings, models=("tiny",), warmup=False, **changes))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["lifecycle"].close()


def _statuses(client, n, **kwargs):
    return [client.get("/v1/models", **kwargs).status_code for _ in range(n)]


def test_over_the_limit_is_429_json_with_retry_after(make_client):
    client = make_client(rate_limit="3/minute")
    assert _statuses(client, 3) == [200] * 3
    resp = client.get("/v1/models", headers={"X-Request-ID": "rl-1"})
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.get_json() == {
        "error": {"code": "rate_limited", "message": "rate limit of 3 per 1 minute exceeded"},
        "request_id": "rl-1",
    }
    # Every route shares the one budget, predict included.
    assert client.post("/predict", json={"text": "cat"}).status_code == 429


def test_each_key_has_its_own_counter(make_client):
    client = make_client(api_keys=(KEY_A, KEY_B), rate_limit="2/minute")
    a, b = {"X-API-Key": KEY_A}, {"Authorization": f"Bearer {KEY_B}"}
    assert _statuses(client, 3, headers=a) == [200, 200, 429]
    assert _statuses(client, 3, headers=b) == [200, 200, 429]
    # Refused keys never reach the limiter, so they cannot spend a real key's budget.
    assert _statuses(client, 1, headers={"X-API-Key": "wrong"}) == [401]


def test_health_routes_are_not_limited(make_client):
    client = make_client(rate_limit="1/minute")
    assert [client.get("/healthz").status_code for _ in range(5)] == [200] * 5
    assert [client.get("/readyz").status_code for _ in range(5)] == [200] * 5
    assert _statuses(client, 2) == [200, 429]


def test_no_limit_by_default(make_client):
    assert _statuses(make_client(), 20) == [200] * 20


def test_trusted_proxy_decides_the_client_address(make_client):
    client = make_client(rate_limit="2/minute", trusted_proxies=1)

    def via(addr):
        # What the one trusted proxy appends; a client-sent address before it is not believed.
        return {"headers": {"X-Forwarded-For": f"198.51.100.9, {addr}"}}

    assert _statuses(client, 3, **via("203.0.113.1")) == [200, 200, 429]
    assert _statuses(client, 2, **via("203.0.113.2")) == [200, 200]


def test_without_trusted_proxies_forwarded_for_is_ignored(make_client):
    client = make_client(rate_limit="2/minute")
    first = {"headers": {"X-Forwarded-For": "203.0.113.1"}}
    second = {"headers": {"X-Forwarded-For": "203.0.113.2"}}
    assert _statuses(client, 2, **first) == [200, 200]
    assert _statuses(client, 1, **second) == [429]  # same socket address: the same counter


def test_a_bad_limit_stops_the_start(make_client):
    with pytest.raises(ValueError, match="rate_limit 'lots' is not a limit"):
        make_client(rate_limit="lots")
