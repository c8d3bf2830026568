"""Start, probe, measure and stop the gunicorn servers under test (loopback only)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
HOST = "127.0.0.1"
START_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 40.0
PROBE_INTERVAL_S = 0.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What each worker of the service logs once its models are loaded and warmed.
READY_LOG_LINE = "after start-up began"
# All a server's environment keeps of the bench's own, as on a fresh machine: where programs are,
# the home folder, and the OpenBLAS kernel choice some machines need to compute right (a
# correctness setting, not a pool size). Everything else a server gets is what the bench names.
CLEAN_ENV_KEEP = ("PATH", "HOME", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_environ() -> dict[str, str]:
    """An environment built from scratch: only ``CLEAN_ENV_KEEP`` of ours (no OMP_*, MMS_*...)."""
    return {name: os.environ[name] for name in CLEAN_ENV_KEEP if name in os.environ}


@dataclass
class Server:
    """A running gunicorn master started by the benchmark."""

    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path
    started: float  # time.monotonic() just before the process was spawned

    @property
    def pid(self) -> int:
        return self.proc.pid


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(
    name: str, wsgi: str, env: dict[str, str], log_path: Path, root: Path = ROOT
) -> Server:
    """Spawn ``gunicorn -c config/gunicorn.conf.py WSGI`` from ``root`` on a free loopback port,
    with a clean environment plus ``env``: what a user's plain start gives it."""
    port = free_port()
    environ = {**clean_environ(), **env, "MMS_BIND": f"{HOST}:{port}"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(root / "config" / "gunicorn.conf.py"),
                wsgi,
            ],
            cwd=root,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Server(name, proc, port, log_path, started)


def start_command(
    name: str,
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    *,
    cwd: Path = ROOT,
    clean: bool = True,
) -> Server:
    """Spawn any command that serves on ``MMS_BIND`` (dev.sh, the image's CMD) like the above."""
    port = free_port()
    base = clean_environ() if clean else {}
    environ = {**base, **env, "MMS_BIND": f"{HOST}:{port}"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=environ, stdout=log, stderr=subprocess.STDOUT)
    return Server(name, proc, port, log_path, started)


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """One HTTP request to the loopback server; (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_until(server: Server, probe, timeout_s: float = START_TIMEOUT_S) -> float:
    """Seconds from spawning the process until ``probe(port)`` first returns True."""
    while time.monotonic() - server.started < timeout_s:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.proc.returncode} before it was ready; "
                f"log: {server.log_path}\n{tail(server.log_path)}"
            )
        try:
            if probe(server.port):
                return time.monotonic() - server.started
        except (OSError, http.client.HTTPException):
            pass  # still importing TensorFlow, loading or warming up
        time.sleep(PROBE_INTERVAL_S)
    raise TimeoutError(f"{server.name} not ready after {timeout_s:.0f} s; log: {server.log_path}")


def stop(server: Server) -> int | None:
    """SIGTERM the master (it stops its workers), then SIGKILL by pid if it hangs."""
    if server.proc.poll() is not None:
        return server.proc.returncode
    workers = worker_pids(server.pid)
    server.proc.send_signal(signal.SIGTERM)
    try:
        return server.proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.proc.kill()
        server.proc.wait(10)
        return None


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn workers: the master's child processes."""
    children: list[int] = []
    task_dir = Path(f"/proc/{master_pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text().split()
            children.extend(int(pid) for pid in text)
    except OSError:
        return []
    return sorted(set(children))


def rss_mib(pid: int) -> float | None:
    """Resident set size of ``pid`` in MiB (VmRSS), None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def thread_count(pid: int) -> int | None:
    """OS threads of ``pid`` (request threads, batcher, TensorFlow pools...)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used by ``pid`` so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of ``pid`` (TensorFlow names its pools; Python threads not)."""
    totals: dict[str, float] = {}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return totals
    for task in tasks:
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        totals[comm] = totals.get(comm, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return totals


def snapshot(server: Server) -> dict:
    """Worker pids with RSS and thread counts, for the report."""
    return {
        str(pid): {"rss_mib": rss_mib(pid), "threads": thread_count(pid)}
        for pid in worker_pids(server.pid)
    }


def all_workers_ready(server: Server) -> bool:
    """Whether every worker has logged that it is ready: /readyz answers for whichever worker
    accepts, and a sweep begun while another still loads would time its start-up, not its work."""
    workers = worker_pids(server.pid)
    log = server.log_path.read_text(errors="replace")
    return bool(workers) and log.count(READY_LOG_LINE) >= len(workers)


def thread_pools(server: Server) -> list[dict] | None:
    """Each worker's thread pools as it logged them at start-up (None: it logs none)."""
    pools = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if '"thread_pools"' not in line or not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "thread_pools":
            pools.append({k: v for k, v in record.items() if k not in ("message", "level")})
    return pools or None


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all processes, /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def cpu_counters(server: Server):
    """A counters function for the load generator: server, per worker thread name, machine."""

    def counters() -> dict[str, float]:
        workers = worker_pids(server.pid)
        values = {
            "server": cpu_seconds(server.pid) + sum(cpu_seconds(pid) for pid in workers),
            "machine": machine_cpu_seconds(),
        }
        for pid in workers:
            for name, seconds in thread_cpu_seconds(pid).items():
                key = f"thread:{name}"
                values[key] = values.get(key, 0.0) + seconds
        return values

    return counters
