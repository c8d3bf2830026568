"""The default worker count: one per core on a CPU host, one where a GPU is used."""

from __future__ import annotations

import os
import runpy

import pytest

from app.workers import default_workers
from tests.support.server import ROOT, clean_environ

CORES = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("device", "environ", "workers"),
    [
        ("cpu", {}, CORES),
        ("gpu", {}, 1),
        ("GPU:1", {}, 1),
        # This machine has no NVIDIA driver: auto is the CPU, and so is a hidden GPU.
        ("auto", {}, CORES),
        ("auto", {"CUDA_VISIBLE_DEVICES": ""}, CORES),
    ],
)
def test_default_workers(device, environ, workers):
    assert default_workers(device, environ) == workers


def test_the_gunicorn_config_uses_it_unless_mms_workers_says(monkeypatch):
    config = str(ROOT / "config" / "gunicorn.conf.py")
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in clean_environ().items():
        monkeypatch.setenv(name, value)
    assert runpy.run_path(config)["workers"] == CORES
    monkeypatch.setenv("MMS_WORKERS", "3")
    assert runpy.run_path(config)["workers"] == 3
