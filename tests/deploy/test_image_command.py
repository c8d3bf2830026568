"""The image's own command, run against a copy of the tree laid out as the Dockerfile lays it.

No Docker engine here, so the test does what the final stage does: copies what its COPY lines
copy (through .dockerignore) into a temporary root, applies its ENV and WORKDIR, runs its
build-time warm-up, and runs its CMD with the HEALTHCHECK beside it. Only the bind address
changes, to a free loopback port. A file the image forgets to COPY, a wrong ENV, a broken command,
an ERROR in the start-up log or a start that compiles or exports what the image ships fails here
before anyone builds. It prints the time from the command to ready (``pytest -s`` shows it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.support.dockerfile import ROOT, ImageLayout, final_layout
from tests.support.server import free_port, wait_ready

SAMPLES = ROOT / "tests" / "data" / "digits"
DOCKER_STOP_GRACE_S = 45  # docker stop -t 45, compose stop_grace_period: 45s (docs/operations.md)
# Where a container may write (docker run --read-only --tmpfs /tmp; Kubernetes' emptyDir).
WRITABLE = "tmp"


def _healthcheck(layout: ImageLayout, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the HEALTHCHECK's exec-form command as Docker would inside the container."""
    check = layout.stage.last("HEALTHCHECK")
    assert check.json, "HEALTHCHECK must be exec form"
    return subprocess.run(
        layout.argv(check.value[1:]),
        cwd=layout.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file and folder under ``root`` but /tmp, links not followed."""
    found = {}
    for folder, dirs, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        if folder == str(root):
            dirs.remove(WRITABLE)
        for name in [*dirs, *files]:
            st = (Path(folder) / name).lstat()
            found[str(relative / name)] = (st.st_size, st.st_mtime_ns)
    return found


def _get(url: str) -> int | None:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None  # gunicorn not listening yet


def test_image_command_serves_the_reference_model_and_stops_on_sigterm(tmp_path):
    layout = final_layout(tmp_path / "image")
    port = free_port()
    env = {**layout.env, "MMS_BIND": f"127.0.0.1:{port}"}
    url = f"http://127.0.0.1:{port}"
    cmd = layout.stage.last("CMD")
    assert cmd.json, "CMD must be exec form, so gunicorn is PID 1 and gets docker stop's SIGTERM"
    log_path, stderr_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    image_files = _files(layout.root)
    # stderr apart: TensorFlow's C++ runtime writes its own plain lines there, before Python's
    # logging exists; the service's and gunicorn's lines all go to stdout.
    started = time.monotonic()
    with open(log_path, "wb") as log, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            layout.argv(cmd.value), cwd=layout.cwd, env=env, stdout=log, stderr=err
        )
    # The probe as the image has it: MMS_BIND's wildcard host, which it must map to loopback.
    probe_env = {**env, "MMS_BIND": f"0.0.0.0:{port}"}
    try:
        # Liveness, not readiness: healthy while the models still load (/readyz 503).
        while _get(f"{url}/healthz") != 200:
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.05)
        assert _get(f"{url}/readyz") == 503, "ready before the probe ran: no loading phase seen"
        loading = _healthcheck(layout, probe_env)
        assert loading.returncode == 0, loading.stderr
        # Every worker (one per core on this CPU host), so no request meets one still loading.
        wait_ready(proc, url, log_path, workers=len(os.sched_getaffinity(0)))
        ready_s = time.monotonic() - started
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "alive"}
        assert requests.get(f"{url}/readyz", timeout=5).json() == {"status": "ready"}
        files = {
            "image": (SAMPLES / "image_7_0.png").read_bytes(),
            "audio": (SAMPLES / "audio_7_0.wav").read_bytes(),
        }
        answer = requests.post(f"{url}/predict", files=files, data={"text": "seven"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"]["digit"][0]["label"] == "7"
        # MMS_DEVICE=auto on a machine without a GPU: the CPU, said in metadata and metrics.
        assert requests.get(f"{url}/v1/models/digits", timeout=5).json()["device"] == "CPU:0"
        metrics = requests.get(f"{url}/metrics", timeout=5).text
        assert (
            'mms_model_info{device="CPU:0",format="keras",model="digits",'
            'outputs="digit:classification",parts="image:image,audio:audio,text:text",'
            'version="1"} 1.0'
        ) in metrics
        healthy = _healthcheck(layout, probe_env)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        code = proc.wait(DOCKER_STOP_GRACE_S)
    took = time.monotonic() - stopped
    assert code == 0, log_path.read_text()[-3000:]
    assert took < DOCKER_STOP_GRACE_S

    # Every line on stdout is JSON (MMS_LOG_FORMAT=json), and the models came from the layout.
    lines, not_json = [], []
    for line in log_path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            not_json.append(line)
    assert not_json == []
    errors = [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]
    assert errors == [], "ERROR lines in a normal start"
    assert "Traceback" not in stderr_path.read_text()
    events = {line.get("event"): line for line in lines}
    print(
        f"\nimage command: ready {ready_s:.1f} s after start "
        f"(the service's own count: {events['ready']['startup_s']} s, "
        f"warm-up {events['ready']['warmup_s']} s)"
    )
    assert events["device"]["device"] == "CPU:0" and events["device"]["gpus_visible"] == 0
    assert events["model_loaded"]["device"] == "CPU:0"
    assert events["model_loaded"]["path"].startswith(env["MMS_MODELS_DIR"])
    # What the build made was used, not made again: the ONNX export and its parity check...
    assert events["inference_runtime"]["parity"] == "recorded"
    assert events["inference_runtime"]["onnx_path"].startswith(env["MMS_ONNX_CACHE_DIR"])
    # ...and librosa's kernels: the writable copy holds the shipped ones, nothing compiled.
    seed, cache = Path(env["MMS_NUMBA_CACHE_SEED"]), Path(env["NUMBA_CACHE_DIR"])
    shipped = sorted(p.relative_to(seed) for p in seed.rglob("*.nb[ic]"))
    assert shipped and sorted(p.relative_to(cache) for p in cache.rglob("*.nb[ic]")) == shipped
    # A read-only root filesystem would do: the service wrote nothing outside /tmp.
    assert _files(layout.root) == image_files
    # Stopped: the same probe now reports unhealthy.
    unhealthy = _healthcheck(layout, probe_env)
    assert unhealthy.returncode == 1
    assert "/healthz" in unhealthy.stderr
