"""Access control in one call: proxy headers, then API keys, then rate limits, in that order."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.api.security.auth import ApiKeys, install_auth
from app.api.security.ratelimit import install_rate_limit
from app.settings import Settings


def install_security(app: Flask, settings: Settings) -> None:
    """Wire ProxyFix, API keys and the rate limit as ``settings`` ask; each is off by default."""
    if settings.trusted_proxies > 0:
        # Only the last N hops are believed: a client can prepend any X-Forwarded-For it likes.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)
    keys = ApiKeys(
        settings.api_keys, Path(settings.api_keys_file) if settings.api_keys_file else None
    )
    # Auth runs before the limiter so that a request's key decides whose counter it uses.
    if keys.enabled:
        install_auth(app, keys, settings.open_paths)
    if settings.rate_limit.strip():
        install_rate_limit(
            app, settings.rate_limit, settings.rate_limit_storage_uri, settings.open_paths
        )
