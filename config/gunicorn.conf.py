"""Gunicorn settings; each can be overridden by the MMS_* variable named beside it."""

import os

# First of all, before any import loads numpy: the thread pools' sizes (app/threads.py). Any
# import from app does this; the line says so where it matters most, in the master before forking.
import app.threads  # noqa: F401

# SIGTERM: readiness turns 503 at once, the worker serves on for drain_delay_s, then stops
# gracefully; batchers finish their rows at exit. See app/gunicorn_hooks.py and the README.
# Metrics of every worker in one scrape: the master prepares PROMETHEUS_MULTIPROC_DIR before
# forking (on_starting), forgets dead workers' gauges (child_exit), removes the files (on_exit).
from app.gunicorn_hooks import (  # noqa: F401
    child_exit,
    on_exit,
    on_starting,
    post_worker_init,
    worker_exit,
)
from app.observability.logging import gunicorn_logconfig
from app.settings import load_settings
from app.workers import default_workers

bind = os.environ.get("MMS_BIND", "0.0.0.0:8000")
# On a CPU host, one worker process per core: measured on 2 cores with the pools at one thread
# (bench/results/configs.md), two workers served 1.28x the peak of one (165.5 against 129.0
# req/s) at the same CPU per request and idle p50, for 0.9 GiB more memory (a model copy each). A
# GPU host keeps one process, which owns the device and batches for it.
service_settings = load_settings()
workers = int(os.environ.get("MMS_WORKERS") or default_workers(service_settings.device, os.environ))
# Enough request threads for two full batches in flight; only preprocess_concurrency of them
# decode at once, the rest wait in the batcher, which is what lets batches fill. The service
# admits max_in_flight (32) predict requests at once, so the remaining threads are always free
# to answer health probes and fast 503s under overload.
threads = int(os.environ.get("MMS_THREADS", "48"))
worker_class = "gthread"
# Models load in each worker after the fork (TensorFlow does not survive fork), so never preload.
preload_app = False
# Heartbeat time-out of a worker's main loop; models load in a thread, so this is not load time.
timeout = int(os.environ.get("MMS_WORKER_TIMEOUT", "120"))
# From SIGTERM to SIGKILL: must cover drain_delay_s plus the longest request (request_timeout_s).
graceful_timeout = int(os.environ.get("MMS_GRACEFUL_TIMEOUT", "40"))
# Longer than any balancer's idle time-out in front (deploy/nginx/mms.conf: 60 s, also AWS ALB's
# default), so the balancer, not gunicorn, closes an idle connection: otherwise a request the
# balancer sends as gunicorn closes dies with a reset, and nginx does not resend a POST on its own.
# Idle connections wait in the poller, not in a thread, so keeping them costs little.
keepalive = int(os.environ.get("MMS_KEEPALIVE", "75"))
forwarded_allow_ips = os.environ.get("MMS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn >= 25's control socket (for gunicornc) goes under $HOME, which the image's user lacks
# (an ERROR at every start); nothing here uses it, and servers sharing a $HOME would share it.
control_socket_disable = True
# The app logs one line per request itself (app/observability/), so gunicorn's access log is off
# unless asked for; its own lines (boots, exits) take the service's log_format.
accesslog = os.environ.get("MMS_ACCESS_LOG") or None
loglevel = os.environ.get("MMS_LOG_LEVEL", "info").lower()
logconfig_dict = gunicorn_logconfig(
    service_settings.log_format, loglevel, access_log=accesslog is not None
)
# librosa's numba kernels compile once per machine instead of once per process.
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/mms-numba-cache")
