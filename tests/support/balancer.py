"""deploy/nginx/mms.conf read with crossplane, re-pointed at test replicas, run by a real nginx."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import crossplane

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "mms.conf"
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
START_TIMEOUT_S = 10
UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
UNITS_BYTES = {"k": 1024, "m": 1024**2, "g": 1024**3}

Directive = dict[str, Any]


def parse_conf(path: Path = NGINX_CONF) -> list[Directive]:
    """The file's directives as crossplane parses them (an http-context file, so no ctx checks)."""
    payload = crossplane.parse(str(path), check_ctx=False, single=True, comments=False)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def find(block: list[Directive], name: str) -> list[Directive]:
    """Every directive called ``name`` in ``block`` and the blocks inside it."""
    found = []
    for directive in block:
        if directive["directive"] == name:
            found.append(directive)
        found.extend(find(directive.get("block", []), name))
    return found


def one(block: list[Directive], name: str) -> list[str]:
    """The arguments of the one directive called ``name``."""
    matches = find(block, name)
    assert len(matches) == 1, f"{name}: {len(matches)} directives"
    return matches[0]["args"]


def seconds(value: str) -> float:
    """An nginx time ("35s", "500ms", "2m"; bare numbers are seconds) in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()
    return int(number) * UNITS_S[unit or "s"]


def size_bytes(value: str) -> int:
    """An nginx size ("50m", "64k", bare bytes) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kmg])?", value.lower()).groups()
    return int(number) * UNITS_BYTES.get(unit or "", 1)


def render(upstreams: list[str], listen: str) -> str:
    """The same configuration with the replicas at ``upstreams`` and nginx at ``listen``."""
    parsed = parse_conf()
    servers = [d for d in find(parsed, "upstream")[0]["block"] if d["directive"] == "server"]
    assert len(servers) == len(upstreams), (servers, upstreams)
    for server, address in zip(servers, upstreams, strict=True):
        server["args"][0] = address
    find(parsed, "listen")[0]["args"] = [listen]
    return crossplane.build(parsed)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """A foreground nginx with its own prefix, pid, logs and temp dirs under ``workdir``."""

    def __init__(self, workdir: Path, upstreams: list[str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = workdir / "access.log"  # the config logs to stdout
        self.error_log = workdir / "error.log"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "mms.conf").write_text(render(upstreams, f"127.0.0.1:{self.port}"))
        temp = "\n".join(
            f"    {kind}_temp_path {workdir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # Tests run as root in CI: without "user root" the workers would drop to nobody and could
        # not write request bodies into the temp dirs under pytest's private tmp_path.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (workdir / "nginx.conf").write_text(
            f"{user}worker_processes 2;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {self.error_log} warn;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n{temp}\n    include {workdir / 'mms.conf'};\n}}\n"
        )
        self.proc: subprocess.Popen | None = None

    def command(self, *extra: str) -> list[str]:
        conf = str(self.workdir / "nginx.conf")
        return ["nginx", "-p", str(self.workdir), "-e", str(self.error_log), "-c", conf, *extra]

    def start(self) -> None:
        """Check the configuration (nginx -t), then run nginx until it accepts connections."""
        checked = subprocess.run(self.command("-t"), capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        with open(self.access_log, "ab") as out:
            self.proc = subprocess.Popen(
                self.command("-g", "daemon off;"), stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.error_log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nginx not listening:\n{self.error_log.read_text()}")

    def stop(self) -> None:
        """Graceful stop (SIGQUIT: open requests finish), a kill if it takes too long."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
