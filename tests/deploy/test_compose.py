"""deploy/compose.yaml and deploy/nginx/mms.conf agree with the service's own settings."""

from __future__ import annotations

import os
import re
import runpy
from unittest import mock

import pytest
import yaml

from app.settings import load_settings
from tests.support.balancer import COMPOSE_FILE, ROOT, find, one, parse_conf, seconds, size_bytes

STOP_MARGIN_S = 5


@pytest.fixture(scope="module")
def gunicorn_conf() -> dict:
    """config/gunicorn.conf.py's values with no MMS_* overrides (its defaults, as shipped)."""
    with mock.patch.dict(os.environ):  # restores whatever the file sets with setdefault
        for name in [n for n in os.environ if n.startswith("MMS_")]:
            del os.environ[name]
        return runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def replicas(compose) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if name != "nginx"}


def test_nginx_matches_the_service_limits_and_timeouts(gunicorn_conf):
    settings = load_settings(environ={})
    conf = parse_conf()
    assert size_bytes(one(conf, "client_max_body_size")[0]) == settings.max_body_bytes
    read_timeout = seconds(one(conf, "proxy_read_timeout")[0])
    assert read_timeout > settings.request_timeout_s
    assert seconds(one(conf, "proxy_send_timeout")[0]) > settings.request_timeout_s
    # A POST that timed out reading, or got the service's late 503 deadline_exceeded, is past
    # the retry window, so it is never run a second time.
    retry_window = seconds(one(conf, "proxy_next_upstream_timeout")[0])
    assert 0 < retry_window < min(read_timeout, settings.request_timeout_s)
    # gunicorn keeps idle connections longer than nginx does: nginx always closes them first.
    upstream = find(conf, "upstream")[0]["block"]
    assert gunicorn_conf["keepalive"] > seconds(one(upstream, "keepalive_timeout")[0])


def test_nginx_balances_retries_and_keeps_connections():
    conf = parse_conf()
    upstream = find(conf, "upstream")[0]["block"]
    assert one(upstream, "least_conn") == []
    assert int(one(upstream, "keepalive")[0]) > 0
    for server in find(upstream, "server"):
        params = dict(arg.split("=", 1) for arg in server["args"][1:])
        assert int(params["max_fails"]) >= 1 and seconds(params["fail_timeout"]) > 0
    assert one(conf, "proxy_http_version") == ["1.1"]
    retry_on = set(one(conf, "proxy_next_upstream"))
    assert retry_on == {"error", "timeout", "http_503", "non_idempotent"}
    assert int(one(conf, "proxy_next_upstream_tries")[0]) == 2
    # Only a buffered body can be sent to a second replica.
    assert one(conf, "proxy_request_buffering") == ["on"]
    headers = {d["args"][0]: d["args"][1] for d in find(conf, "proxy_set_header")}
    assert headers == {
        "Connection": "",
        "Host": "$host",
        "X-Request-ID": "$mms_request_id",
        "X-Forwarded-For": "$proxy_add_x_forwarded_for",
        "X-Forwarded-Proto": "$scheme",
        "X-Forwarded-Host": "$host",
    }


def test_compose_replicas_match_the_service(replicas, gunicorn_conf):
    settings = load_settings(environ={})
    port = gunicorn_conf["bind"].rsplit(":", 1)[1]
    assert len(replicas) >= 2
    gpus = []
    for name, service in replicas.items():
        env = service["environment"]
        assert env["MMS_TRUSTED_PROXIES"] == "1", name
        assert service["expose"] == [port] and "ports" not in service, name
        grace = seconds(service["stop_grace_period"])
        assert grace >= gunicorn_conf["graceful_timeout"] + STOP_MARGIN_S, name
        assert (
            gunicorn_conf["graceful_timeout"] > settings.drain_delay_s + settings.request_timeout_s
        )
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in probe, name
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"], name
        gpus.extend(device["device_ids"])
    assert len(gpus) == len(set(gpus)) == len(replicas)  # one GPU each, none shared


def test_nginx_waits_for_every_replica_and_proxies_to_each(compose, replicas, gunicorn_conf):
    nginx = compose["services"]["nginx"]
    assert nginx["depends_on"] == {name: {"condition": "service_healthy"} for name in replicas}
    mounted = {v.split(":")[0]: v.split(":")[1] for v in nginx["volumes"]}
    assert (COMPOSE_FILE.parent / "./nginx/mms.conf").resolve() == ROOT / "deploy/nginx/mms.conf"
    assert mounted["./nginx/mms.conf"] == "/etc/nginx/conf.d/default.conf"
    port = gunicorn_conf["bind"].rsplit(":", 1)[1]
    servers = [d["args"][0] for d in find(find(parse_conf(), "upstream")[0]["block"], "server")]
    assert servers == [f"{name}:{port}" for name in replicas]
    assert re.fullmatch(r"nginx:[\d.]+-alpine", nginx["image"])
