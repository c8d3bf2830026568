# syntax=docker/dockerfile:1
# The service on TensorFlow with CUDA 12 from PyPI: one image for GPU and CPU-only hosts.
#   docker build -t mms .
#   docker run --gpus all -p 8000:8000 mms      # GPU (NVIDIA driver + Container Toolkit on the host)
#   docker run -p 8000:8000 mms                 # CPU: MMS_DEVICE=auto falls back by itself
# See the README's "Docker" section. tests/test_dockerfile.py lints this file with hadolint and
# runs its final stage's CMD, ENV and COPY lines against a copy of the tree laid out as here.

# Patch release and Debian release pinned; for byte-for-byte rebuilds pass the digest too:
#   --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Builder: the virtualenv, from wheels only (every pinned package ships a manylinux wheel, so
# nothing compiles); pip, its cache and the requirement files stay behind in this stage.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt requirements-cuda.txt /tmp/requirements/
RUN /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: \
        -r /tmp/requirements/requirements-cuda.txt

# Runtime: the interpreter, the virtualenv and the service; no compilers, no pip cache.
FROM ${PYTHON_IMAGE}
# Numeric user and group so that Kubernetes' runAsNonRoot can verify them without /etc/passwd;
# /models is the empty mount point for a user's own bundles.
RUN groupadd --system --gid 10001 mms \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mms \
    && mkdir /models
COPY --from=builder /opt/venv /opt/venv
# The numba cache and the Prometheus multiprocess files go under /tmp, so with a read-only root
# filesystem only /tmp needs to be writable (docker run --read-only --tmpfs /tmp; an emptyDir).
# MMS_MODELS_DIR is the baked-in reference bundle; mount your own and point it there:
#   -v ./my-models:/models -e MMS_MODELS_DIR=/models -e MMS_DEFAULT_MODEL=<name>
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    NUMBA_CACHE_DIR=/tmp/mms/numba-cache \
    PROMETHEUS_MULTIPROC_DIR=/tmp/mms/metrics \
    MMS_LOG_FORMAT=json \
    MMS_DEVICE=auto \
    MMS_MODELS_DIR=/srv/models \
    MMS_BIND=0.0.0.0:8000
WORKDIR /srv
# Owned by root and read-only to the service: it writes only under /tmp.
COPY config/ config/
COPY app/ app/
COPY models/ models/
COPY wsgi.py ./
USER 10001:10001
EXPOSE 8000
# Liveness only (/healthz answers while models load and while draining); readiness is /readyz,
# for the balancer or Kubernetes' readinessProbe, not for Docker's health status.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "app/healthcheck.py"]
# gunicorn as PID 1 gets SIGTERM from docker stop: /readyz turns 503 at once, the worker serves
# on for drain_delay_s (5 s), then finishes accepted requests within MMS_GRACEFUL_TIMEOUT (40 s).
# Give docker stop more than that: docker stop -t 45, compose stop_grace_period: 45s.
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
