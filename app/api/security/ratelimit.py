"""Rate limits per API key (per client address when auth is off), counted by flask-limiter."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits import parse_many

from app.api.security.auth import is_open_path

EXTENSION = "rate_limiter"


def rate_limit_key() -> str:
    """Whose counter a request counts against: its API key's id, else the client address."""
    # The key's one-way id, never the key: flask-limiter logs this and stores it as a counter name.
    api_key_id = g.get("api_key_id")
    return f"key:{api_key_id}" if api_key_id else f"addr:{request.remote_addr}"


def install_rate_limit(
    app: Flask, limit: str, storage_uri: str, open_paths: Iterable[str]
) -> Limiter:
    """Count every request outside ``open_paths`` against ``limit``; over it, a 429."""
    try:
        parse_many(limit)
    except ValueError:
        raise ValueError(
            f"rate_limit {limit!r} is not a limit such as '100/second' or '1000/hour;100/second'"
        ) from None
    open_paths = tuple(open_paths)
    limiter = Limiter(
        rate_limit_key,
        # One budget per key over all routes together, not one per route.
        application_limits=[limit],
        storage_uri=storage_uri,
        strategy="fixed-window",
        # Shared storage down: count per worker in memory rather than fail every request.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limiter.request_filter(lambda: is_open_path(request.path, open_paths))
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    return limiter


def retry_after_s() -> int:
    """Whole seconds until the breached window of the current request resets (at least 1)."""
    limiter: Limiter | None = current_app.extensions.get(EXTENSION)
    current = limiter.current_limit if limiter else None
    if current is None:
        return 1
    try:
        reset_at, _remaining = current.window
        return max(1, math.ceil(reset_at - time.time()))
    except Exception:  # storage unreachable: a guess beats a 500
        return 1
