"""``bash dev.sh test`` on a fresh machine: the Debian packages its tests start, or a clear stop.

dev.sh runs from a copy in a temporary folder with a PATH of stand-ins (id, sudo, apt-get, the
programs), and .venv's python and ruff are stand-ins too: a run that got as far as the test suite
leaves a note instead of running it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import ROOT

PROGRAMS = ("memcached", "chromium", "nginx", "espeak-ng")
# Real tools dev.sh itself needs on the stand-in PATH.
TOOLS = ("dirname", "env", "touch")
# dev.sh adds nginx's folder to PATH; whatever is there on this machine counts as installed.
SBIN = "/usr/sbin"


def stand_in(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder with dev.sh, up-to-date .venv stamps, and stand-ins for .venv's programs."""
    shutil.copy(ROOT / "dev.sh", tmp_path)
    for name in ("requirements.txt", "requirements-dev.txt"):
        (tmp_path / name).touch()
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    stand_in(venv / "python", f'echo "$*" > {tmp_path}/pytest-ran')
    stand_in(venv / "ruff", "exit 0")
    for name in ("requirements.txt", "requirements-dev.txt"):
        (tmp_path / ".venv" / f".installed-{name}").touch()
    (tmp_path / "bin").mkdir()
    for tool in TOOLS:
        (tmp_path / "bin" / tool).symlink_to(shutil.which(tool))
    return tmp_path


def run_dev_sh(checkout: Path, *, uid: int, sudo: bool, installed: tuple[str, ...] = ()):
    """``bash dev.sh test -x`` as user ``uid``; apt-get and sudo log to apt.log; returns the run."""
    bin_dir = checkout / "bin"
    stand_in(bin_dir / "id", f"echo {uid}")
    stand_in(bin_dir / "apt-get", f'echo "apt-get $*" >> {checkout}/apt.log')
    if sudo:
        stand_in(bin_dir / "sudo", f'echo "sudo $1" >> {checkout}/apt.log; exec "$@"')
    for program in installed:
        stand_in(bin_dir / program, "exit 0")
    return subprocess.run(
        [shutil.which("bash"), str(checkout / "dev.sh"), "test", "-x"],
        env={"PATH": str(bin_dir), "HOME": str(checkout)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def missing(checkout: Path, installed: tuple[str, ...] = ()) -> list[str]:
    path = f"{checkout / 'bin'}:{SBIN}"
    return [p for p in PROGRAMS if p not in installed and shutil.which(p, path=path) is None]


def test_without_root_or_sudo_it_stops_before_the_tests_with_the_command(checkout):
    run = run_dev_sh(checkout, uid=1000, sudo=False, installed=("memcached",))
    absent = missing(checkout, ("memcached",))
    assert run.returncode != 0
    assert not (checkout / "pytest-ran").exists()
    assert not (checkout / "apt.log").exists()
    (message,) = run.stderr.splitlines()
    assert f"apt-get install {' '.join(absent)}" in message
    assert "memcached" not in message
    assert run.stdout == ""


@pytest.mark.parametrize("uid,sudo", [(0, False), (1000, True)])
def test_it_installs_what_is_missing_once_then_runs_the_tests(checkout, uid, sudo):
    run = run_dev_sh(checkout, uid=uid, sudo=sudo)
    absent = missing(checkout)
    assert run.returncode == 0, run.stderr
    (line,) = run.stdout.splitlines()
    assert re.search(rf"installing {' '.join(absent)} with apt-get\b.*tests start", line)
    calls = (checkout / "apt.log").read_text().splitlines()
    apt = [call for call in calls if call.startswith("apt-get")]
    assert apt[0] == "apt-get update -qq"
    assert apt[1].startswith("apt-get install -y") and apt[1].endswith(" ".join(absent))
    assert len(apt) == 2
    assert any(call.startswith("sudo") for call in calls) == sudo
    assert (checkout / "pytest-ran").read_text().split() == ["-m", "pytest", "-x"]


def test_with_every_program_there_it_installs_nothing(checkout):
    run = run_dev_sh(checkout, uid=1000, sudo=False, installed=PROGRAMS)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert not (checkout / "apt.log").exists()
    assert (checkout / "pytest-ran").exists()


def test_a_failed_install_stops_before_the_tests(checkout):
    bin_dir = checkout / "bin"
    run_env = {"PATH": str(bin_dir), "HOME": str(checkout)}
    stand_in(bin_dir / "id", "echo 0")
    stand_in(bin_dir / "apt-get", "echo 'E: Unable to locate package' >&2; exit 100")
    run = subprocess.run(
        [shutil.which("bash"), str(checkout / "dev.sh"), "test"],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 100
    assert "Unable to locate package" in run.stderr
    assert not (checkout / "pytest-ran").exists()


def test_ci_runs_the_readme_command_and_nothing_else():
    commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == ["bash dev.sh test"]
