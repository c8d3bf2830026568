"""numba's cache seeded from a read-only copy, as the image ships librosa's compiled kernels."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.numba_cache import SEED_ENV, seed_folder
from tests.support.dockerfile import ROOT

# Each test compiles kernels in fresh processes.
pytestmark = pytest.mark.slow

KERNELS = """
from numba import njit

@njit(cache=True)
def add_one(x):
    return x + 1
"""
# Calls the kernel with the given argument; prints numba's cache statistics for it.
RUN = """
import json, sys
import kernels

kernels.add_one(int(sys.argv[1]) if sys.argv[1].isdigit() else float(sys.argv[1]))
stats = kernels.add_one.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def _run(code_dir: Path, arg: str, **env: str) -> dict[str, int]:
    environ = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{code_dir}{os.pathsep}{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    out = subprocess.run(
        [sys.executable, "-c", RUN, arg],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def _read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def test_kernels_load_from_a_read_only_seed_and_new_ones_compile_beside_them(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "kernels.py").write_text(KERNELS)
    seed, cache = tmp_path / "seed", tmp_path / "cache"
    # The image build: compiled into the seed folder with numba's own locator.
    assert _run(code, "1", NUMBA_CACHE_DIR=str(seed)) == {"hits": 0, "misses": 1}
    _read_only(seed)
    seeded = {
        "NUMBA_CACHE_DIR": str(cache),
        "NUMBA_CACHE_LOCATOR_CLASSES": "app.numba_cache.SeededCacheLocator",
        SEED_ENV: str(seed),
    }
    assert _run(code, "1", **seeded) == {"hits": 1, "misses": 0}
    # A signature the build did not compile is compiled and saved in the writable copy.
    assert _run(code, "1.5", **seeded) == {"hits": 0, "misses": 1}
    assert _run(code, "2.5", **seeded) == {"hits": 1, "misses": 0}
    (folder,) = cache.iterdir()
    assert len(list(folder.glob("*.nbc"))) == 2
    assert len(list((seed / folder.name).glob("*.nbc"))) == 1


def test_without_a_seed_the_locator_is_numbas_own(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "kernels.py").write_text(KERNELS)
    env = {
        "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
        "NUMBA_CACHE_LOCATOR_CLASSES": "app.numba_cache.SeededCacheLocator",
        SEED_ENV: str(tmp_path / "no-seed"),
    }
    assert _run(code, "1", **env) == {"hits": 0, "misses": 1}
    assert _run(code, "1", **env) == {"hits": 1, "misses": 0}


def test_a_folder_already_seeded_or_compiled_is_left_alone(tmp_path):
    source, target = tmp_path / "seed", tmp_path / "cache" / "kernels_abc"
    source.mkdir()
    (source / "k.nbi").write_bytes(b"seed")
    seed_folder(source, target)
    assert (target / "k.nbi").read_bytes() == b"seed"
    (target / "k.nbi").write_bytes(b"compiled here")
    seed_folder(source, target)
    assert (target / "k.nbi").read_bytes() == b"compiled here"
    assert [p.name for p in target.parent.iterdir()] == ["kernels_abc"]  # no partial copy left
