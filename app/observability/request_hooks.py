"""Per request: one count and duration in the metrics and one log line, whatever the answer.

Installed before any other hook, so its ``before_request`` runs first (auth and the rate limit
may refuse the request) and its ``after_request`` runs last (after the request id is set).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

if TYPE_CHECKING:  # prometheus_client is imported in the worker only (see metrics.py)
    from app.observability.metrics import Metrics

log = logging.getLogger("app.requests")
UNMATCHED = "unmatched"  # the route label of a 404 for a path no rule matches
MAX_PATH_CHARS = 200


def install_request_hooks(app: Flask, metrics: Metrics) -> None:
    """Count, time and log every request ``app`` answers."""

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        model = g.get("model") or (request.view_args or {}).get("name") or ""
        metrics.observe_request(route, request.method, model, response.status_code, seconds)
        log.info(
            "%s %s %d %.1f ms",
            request.method,
            request.path[:MAX_PATH_CHARS],
            response.status_code,
            seconds * 1000.0,
            extra=request_fields(route, model, response, seconds),
        )
        return response


def request_fields(route: str, model: str, response: Response, seconds: float) -> dict[str, Any]:
    """The fields of a request's log line: who, what, how it went; never payload or keys."""
    fields: dict[str, Any] = {
        "event": "request",
        "request_id": g.get("request_id"),
        "method": request.method,
        "route": route,
        "path": request.path[:MAX_PATH_CHARS],
        "model": model or None,
        "version": g.get("model_version"),
        "status": response.status_code,
        "request_bytes": request.content_length or 0,
        "duration_ms": round(seconds * 1000.0, 3),
        "client": request.remote_addr,  # after ProxyFix: the client as the trusted proxies saw it
    }
    if "api_key_id" in g:
        fields["api_key_id"] = g.api_key_id  # a one-way id, never the key (security/auth.py)
    if "timing_ms" in g:
        fields["timing_ms"] = g.timing_ms
    return fields


def stage_timings(results: list[dict[str, Any]]) -> dict[str, float]:
    """A request's per-stage times from its per-instance ``timing_ms``.

    Instances are preprocessed one after another (their times add up) but wait and run in the
    batch queue together (the slowest one counts).
    """
    timings = [r["timing_ms"] for r in results if "timing_ms" in r]
    if not timings:
        return {}
    stages = dict.fromkeys(stage for t in timings for stage in t)
    combined = {}
    for stage in stages:
        times = [t.get(stage, 0.0) for t in timings]
        combined[stage] = round(sum(times) if stage == "preprocess" else max(times), 3)
    return combined
