"""The Dockerfile without a Docker engine: hadolint, what each stage holds, pins, the context."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.dockerfile import DOCKERFILE, ROOT, DockerIgnore, env_pairs, stages

HADOLINT = Path(sys.executable).parent / "hadolint"
GRACEFUL_TIMEOUT_S = 40  # config/gunicorn.conf.py's MMS_GRACEFUL_TIMEOUT default
DOCKER_STOP_GRACE_S = 45  # what the README tells docker stop -t and compose stop_grace_period


def _hadolint(path: Path) -> list[dict]:
    out = subprocess.run(
        [str(HADOLINT), "--no-color", "--format", "json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(out.stdout)


def test_hadolint_finds_nothing():
    findings = _hadolint(DOCKERFILE)
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path):
    # The linter is really running (and reading .hadolint.yaml's ignores, if any, from ROOT).
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python\nRUN cd /srv && pip install flask\nCMD gunicorn wsgi:app\n")
    codes = {f["code"] for f in _hadolint(careless)}
    assert {"DL3006", "DL3003", "DL3013", "DL3025"} <= codes


def test_runtime_stage_is_slim_non_root_and_runs_gunicorn():
    builder, runtime = stages()
    assert builder.base == runtime.base
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", runtime.base)
    # Only the builder installs packages; the runtime gets its virtualenv and nothing to compile.
    runtime_runs = " ".join(" ".join(c.value) for c in runtime.all("RUN"))
    builder_runs = " ".join(" ".join(c.value) for c in builder.all("RUN"))
    assert not re.search(r"pip install|apt-get|gcc|build-essential", runtime_runs)
    assert "pip install" in builder_runs
    # And no pip in the image: not the virtualenv's (removed before it is copied), not the base's.
    removal = "pip uninstall --yes pip setuptools wheel"
    assert removal in builder_runs and removal in runtime_runs
    user = runtime.last("USER").value[0]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER {user}: numeric uid:gid, not root"
    cmd = runtime.last("CMD")
    assert cmd.json and list(cmd.value) == [
        "gunicorn",
        "-c",
        "config/gunicorn.conf.py",
        "wsgi:app",
    ]
    assert runtime.last("ENTRYPOINT") is None
    assert runtime.last("STOPSIGNAL").value == ("SIGTERM",)


def test_healthcheck_is_liveness_with_a_start_period():
    runtime = stages()[-1]
    check = runtime.last("HEALTHCHECK")
    assert check.json and check.value[0] == "CMD"
    assert "--start-period=30s" in check.flags
    assert (ROOT / "app" / "healthcheck.py").read_text().count('LIVENESS_PATH = "/healthz"') == 1


@pytest.mark.parametrize(
    "variant,requirements",
    [("cuda", "requirements-cuda.txt"), ("cpu", "requirements.txt"), ("rocm", None)],
)
def test_variant_chooses_the_requirements(variant, requirements):
    builder = stages()[0]
    assert [c.value for c in builder.all("ARG")] == [("VARIANT=cuda",)]
    (install,) = [" ".join(c.value) for c in builder.all("RUN") if "pip install" in c.value[0]]
    # The RUN line as the builder's shell runs it, with the build argument in its environment.
    script = install.replace("/opt/venv/bin/pip", "echo pip")
    done = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": "/usr/bin:/bin", "VARIANT": variant},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if requirements is None:
        assert done.returncode == 1 and "expected cuda or cpu" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert f"-r /tmp/requirements/{requirements}\n" in done.stdout
    copied = [c.value for c in builder.all("COPY")]
    assert any(requirements in value[:-1] for value in copied)


def test_caches_are_made_at_build_time_and_read_at_run_time():
    runtime = stages()[-1]
    (warm_up,) = [c for c in runtime.all("RUN") if c.json]
    assert list(warm_up.value) == ["python", "-c", "from app import create_app; create_app()"]
    at_build: dict[str, str] = {}
    for command in runtime.commands[: runtime.commands.index(warm_up)]:
        if command.cmd == "ENV":
            at_build.update(env_pairs(command))
    at_run = dict(pair for command in runtime.all("ENV") for pair in env_pairs(command))
    # The warm-up writes both caches into the image, outside /tmp.
    assert not at_build["NUMBA_CACHE_DIR"].startswith("/tmp/")
    assert not at_build["MMS_ONNX_CACHE_DIR"].startswith("/tmp/")
    assert "PROMETHEUS_MULTIPROC_DIR" not in at_build  # a one-process warm-up: no gunicorn master
    # At run time the ONNX cache is read where it was made; numba's is copied from there to /tmp.
    assert at_run["MMS_ONNX_CACHE_DIR"] == at_build["MMS_ONNX_CACHE_DIR"]
    assert at_run["MMS_NUMBA_CACHE_SEED"] == at_build["NUMBA_CACHE_DIR"]
    assert at_run["NUMBA_CACHE_DIR"].startswith("/tmp/")
    module, _, name = at_run["NUMBA_CACHE_LOCATOR_CLASSES"].rpartition(".")
    assert getattr(importlib.import_module(module), name)
    # Kernels for any x86-64 host, in both; ONNX Runtime keeps no telemetry id in a missing $HOME.
    assert at_build["NUMBA_CPU_NAME"] == at_run["NUMBA_CPU_NAME"] == "generic"
    assert at_run["ORT_DISABLE_TELEMETRY"] == "1"


def test_env_port_and_writable_directories():
    runtime = stages()[-1]
    env = dict(pair for command in runtime.all("ENV") for pair in env_pairs(command))
    port = env["MMS_BIND"].rsplit(":", 1)[1]
    assert runtime.last("EXPOSE").value == (port,)
    assert env["MMS_LOG_FORMAT"] == "json"
    assert env["MMS_DEVICE"] == "auto"
    # Writable by the non-root user, and on the tmpfs a read-only root filesystem needs.
    assert env["NUMBA_CACHE_DIR"].startswith("/tmp/")
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    workdir = runtime.last("WORKDIR").value[0]
    assert env["MMS_MODELS_DIR"] == f"{workdir}/models"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_docker_stop_grace_covers_gunicorns():
    text = DOCKERFILE.read_text()
    assert f"docker stop -t {DOCKER_STOP_GRACE_S}" in text
    assert f"MMS_GRACEFUL_TIMEOUT ({GRACEFUL_TIMEOUT_S} s)" in text
    conf = (ROOT / "config" / "gunicorn.conf.py").read_text()
    assert f'"MMS_GRACEFUL_TIMEOUT", "{GRACEFUL_TIMEOUT_S}"' in conf
    assert DOCKER_STOP_GRACE_S > GRACEFUL_TIMEOUT_S


def test_cuda_libraries_are_pinned_inside_tensorflows_ranges():
    cuda = {}
    for line in (ROOT / "requirements-cuda.txt").read_text().splitlines():
        if line and not line.startswith(("#", "-r")):
            req = Requirement(line)
            cuda[req.name] = req
    assert cuda["tensorflow"].extras == {"and-cuda"}
    runtime_pin = next(
        Requirement(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("tensorflow==")
    )
    assert cuda["tensorflow"].specifier == runtime_pin.specifier
    extra = [Requirement(r) for r in requires("tensorflow") or ()]
    wanted = [r for r in extra if r.marker and r.marker.evaluate({"extra": "and-cuda"})]
    assert len(wanted) >= 10
    for req in wanted:
        pin = cuda.get(req.name)
        assert pin is not None, f"{req.name} (tensorflow[and-cuda]) is not pinned"
        (spec,) = pin.specifier
        assert spec.operator == "==" and req.specifier.contains(spec.version), (pin, req)


@pytest.mark.parametrize(
    "path,excluded",
    [
        ("tests/test_server.py", True),
        ("tests/data/digits/image_7_0.png", True),
        ("bench/run.py", True),
        ("training/train_digits.py", True),
        ("docs", True),
        ("deploy", True),
        (".venv/bin/python", True),
        (".git", True),
        (".cache/numba", True),
        ("build/playground.png", True),
        ("README.md", True),
        ("app/__pycache__/settings.cpython-311.pyc", True),
        ("app/model/__pycache__/bundle.cpython-311.pyc", True),
        ("app/model/bundle.py", False),
        ("models/digits/1/model.keras", False),
        ("config/gunicorn.conf.py", False),
        ("wsgi.py", False),
        ("requirements-cuda.txt", False),
    ],
)
def test_build_context_keeps_only_what_the_image_needs(path, excluded):
    assert DockerIgnore().excludes(path) is excluded
