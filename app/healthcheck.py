"""The image's HEALTHCHECK: exit 0 when /healthz answers 200 on the address gunicorn binds, else 1.

Liveness, not readiness: /healthz answers while models load and while draining, so a container
that is busy starting or stopping is not reported unhealthy. Standard library only, so a probe
every few seconds costs a bare interpreter start, not an import of the service.
"""

from __future__ import annotations

import os
import sys
import urllib.request

LIVENESS_PATH = "/healthz"
TIMEOUT_S = 2.0
DEFAULT_BIND = "0.0.0.0:8000"  # config/gunicorn.conf.py's default for MMS_BIND


def probe_url(bind: str) -> str:
    """The /healthz URL on this host for gunicorn's ``host:port`` bind address."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    # A wildcard bind listens on loopback too.
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{LIVENESS_PATH}"


def main() -> int:
    """Probe once; the exit status is Docker's verdict (0 healthy, 1 unhealthy)."""
    url = probe_url(os.environ.get("MMS_BIND", DEFAULT_BIND))
    # No proxies: an HTTP_PROXY set for the service's own clients must not carry the probe away.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT_S) as answer:
            healthy = answer.status == 200
    except OSError as exc:  # refused, timed out, or an HTTP error status
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
