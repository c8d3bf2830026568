# syntax=docker/dockerfile:1
# The service on TensorFlow, in two variants (build argument VARIANT, default cuda):
#   docker build -t mms .                                  # cuda: TensorFlow's CUDA 12 libraries
#   docker build --build-arg VARIANT=cpu -t mms:cpu .      # cpu: without them, for CPU-only hosts
#   docker run --gpus all -p 8000:8000 mms      # GPU (NVIDIA driver + Container Toolkit on the host)
#   docker run -p 8000:8000 mms:cpu             # CPU (the cuda image runs there too: MMS_DEVICE=auto)
# See docs/operations.md ("Docker image"); deploy/docker-smoke.sh builds, runs and checks either.
# tests/deploy/test_dockerfile.py lints this file with hadolint; tests/deploy/test_image_command.py lays out
# the final stage (its COPY, ENV and Python RUN lines) on the machine and runs its CMD.

# Patch release and Debian release pinned; for byte-for-byte rebuilds pass the digest too:
#   --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Builder: the virtualenv, from wheels only (every pinned package ships a manylinux wheel, so
# nothing compiles); pip, its cache and the requirement files stay behind in this stage.
FROM ${PYTHON_IMAGE} AS builder
# cuda: requirements-cuda.txt (requirements.txt + tensorflow[and-cuda]'s NVIDIA wheels, pinned);
# cpu: requirements.txt alone (the same TensorFlow wheel, which runs on the CPU without them).
ARG VARIANT=cuda
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt requirements-cuda.txt /tmp/requirements/
RUN case "${VARIANT}" in \
        cuda) requirements="requirements-cuda.txt" ;; \
        cpu) requirements="requirements.txt" ;; \
        *) echo "VARIANT=${VARIANT}: expected cuda or cpu" >&2; exit 1 ;; \
    esac \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: \
        -r "/tmp/requirements/${requirements}" \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel

# Runtime: the interpreter, the virtualenv and the service; no compilers, no pip.
FROM ${PYTHON_IMAGE}
# The base image's own pip goes too. Numeric user and group so that Kubernetes' runAsNonRoot can
# verify them without /etc/passwd; /models is the empty mount point for a user's own bundles.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --system --gid 10001 mms \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mms \
    && mkdir /models
COPY --from=builder /opt/venv /opt/venv
# The build warms the reference bundle up once (below) and ships what that made, read-only:
# its ONNX export with the parity check's result (MMS_ONNX_CACHE_DIR) and librosa's compiled
# numba kernels, for any x86-64 CPU (NUMBA_CPU_NAME=generic), so a container starts without
# exporting or compiling. ONNX Runtime's telemetry is off: it would try to keep an id in $HOME.
# MMS_MODELS_DIR is the baked-in reference bundle; mount your own and point it there:
#   -v ./my-models:/models -e MMS_MODELS_DIR=/models -e MMS_DEFAULT_MODEL=<name>
# (their ONNX exports go to /tmp/mms-onnx: the shipped cache is read, never written)
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    ORT_DISABLE_TELEMETRY=1 \
    NUMBA_CPU_NAME=generic \
    NUMBA_CACHE_DIR=/opt/mms/numba-cache \
    MMS_ONNX_CACHE_DIR=/opt/mms/onnx-cache \
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
# Load and warm the models as a worker does, which writes both caches; then make them readable.
RUN ["python", "-c", "from app import create_app; create_app()"]
RUN chmod -R a+rX /opt/mms && rm -rf /tmp/* /root/.cache /root/.config /root/.keras
# numba must write where it reads, so at run time its cache is under /tmp and each source
# folder's kernels are copied there from the image's on first use (app/numba_cache.py). That
# and the Prometheus multiprocess files are all the service writes, so with a read-only root
# filesystem only /tmp needs to be writable (docker run --read-only --tmpfs /tmp; an emptyDir).
ENV NUMBA_CACHE_DIR=/tmp/mms/numba-cache \
    NUMBA_CACHE_LOCATOR_CLASSES=app.numba_cache.SeededCacheLocator \
    MMS_NUMBA_CACHE_SEED=/opt/mms/numba-cache \
    PROMETHEUS_MULTIPROC_DIR=/tmp/mms/metrics
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
