"""Gunicorn settings; each can be overridden by the MMS_* variable named beside it."""

import os

bind = os.environ.get("MMS_BIND", "0.0.0.0:8000")
# One worker process owns the model and batches for it (on a GPU: one process per GPU). More
# workers mean more model copies and smaller batches; measured on 2 cores (README, bench/), two
# workers used no less CPU per request and doubled memory and cold start.
workers = int(os.environ.get("MMS_WORKERS", "1"))
# Enough request threads for two full batches in flight; only preprocess_concurrency of them
# decode at once, the rest wait in the batcher, which is what lets batches fill.
threads = int(os.environ.get("MMS_THREADS", "32"))
worker_class = "gthread"
# Models load in each worker after the fork (TensorFlow does not survive fork), so never preload.
preload_app = False
# Loading a large model can take a while before the worker's first heartbeat.
timeout = int(os.environ.get("MMS_WORKER_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("MMS_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("MMS_KEEPALIVE", "5"))
forwarded_allow_ips = os.environ.get("MMS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("MMS_ACCESS_LOG", "-") or None
loglevel = os.environ.get("MMS_LOG_LEVEL", "info").lower()
# Workers import numpy after the fork, so these reach them. Request threads already give the
# parallelism; OpenBLAS threading on the small feature matrices costs more than it saves.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# librosa's numba kernels compile once per machine instead of once per process.
os.environ.setdefault("NUMBA_CACHE_DIR", "/tmp/mms-numba-cache")
