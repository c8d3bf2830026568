"""Decoding never starts a process (no ffmpeg or audioread fallback): watched with audit hooks."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from app.errors import ServiceError
from tests.support.hostile import MULTIPART, corpus, preprocessors, seeds, upload

# Every audit event CPython raises for starting a program or cloning the process.
SPAWN_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.posix_spawn",
        "os.exec",
        "os.spawn",
        "os.system",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
    }
)


class SpawnWatch:
    """Records spawn events while armed. An audit hook cannot be removed, so one is installed
    per process and stays inert outside ``with``."""

    _installed: SpawnWatch | None = None

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple]] = []
        self._armed = threading.Event()
        sys.addaudithook(self._hook)

    @classmethod
    def get(cls) -> SpawnWatch:
        if cls._installed is None:
            cls._installed = cls()
        return cls._installed

    def _hook(self, event: str, args: tuple) -> None:
        if self._armed.is_set() and event in SPAWN_EVENTS:
            self.events.append((event, args))

    def __enter__(self) -> SpawnWatch:
        self.events.clear()
        self._armed.set()
        return self

    def __exit__(self, *exc: object) -> None:
        self._armed.clear()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return preprocessors(tmp_path_factory.mktemp("vocab"))


def test_the_watch_sees_a_spawn():
    with SpawnWatch.get() as watch:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert any(event == "subprocess.Popen" for event, _ in watch.events)


def test_decoding_hostile_and_valid_files_spawns_nothing(prepared):
    answered = 0
    with SpawnWatch.get() as watch:
        for case in corpus():
            with pytest.raises(ServiceError):
                prepared[case.part](case.data)
            answered += 1
        for data in seeds():
            for pre in prepared.values():
                try:
                    pre(data)
                except ServiceError:
                    pass
    assert answered == len(corpus())
    assert watch.events == []


def test_requests_spawn_nothing(client):
    with SpawnWatch.get() as watch:
        for case in corpus():
            resp = client.post("/predict", data=upload(case), content_type=MULTIPART)
            assert resp.status_code == case.status
    assert watch.events == []
