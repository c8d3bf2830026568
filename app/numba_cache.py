"""numba's cache, seeded from a read-only copy made when the image was built.

librosa compiles its numba kernels when it is imported (about 15 s on 2 cores) and caches them in
``NUMBA_CACHE_DIR``. numba reads and writes that folder as one and gives up on a folder it cannot
write, so the image cannot point it at a cache in its read-only filesystem. Instead the Dockerfile
names ``SeededCacheLocator`` in ``NUMBA_CACHE_LOCATOR_CLASSES``: for each source folder of jitted
functions it copies what the image built (``MMS_NUMBA_CACHE_SEED``) into the writable
``NUMBA_CACHE_DIR`` once, and numba then loads it from there. Entries are keyed by the source's
hash and the CPU, so the image builds them for ``NUMBA_CPU_NAME=generic`` to fit any x86-64 host.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from numba.core import config
from numba.core.caching import UserProvidedCacheLocator

SEED_ENV = "MMS_NUMBA_CACHE_SEED"


class SeededCacheLocator(UserProvidedCacheLocator):
    """numba's ``NUMBA_CACHE_DIR`` locator, which first copies in the seed's entries if any."""

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> UserProvidedCacheLocator | None:
        """The locator for one jitted function (numba calls this as it decorates)."""
        seed = os.environ.get(SEED_ENV)
        if seed and config.CACHE_DIR:
            subpath = cls.get_suitable_cache_subpath(py_file)
            seed_folder(Path(seed) / subpath, Path(config.CACHE_DIR) / subpath)
        return super().from_function(py_func, py_file)


def seed_folder(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` unless ``target`` exists; a failure only costs compile time."""
    if target.exists() or not source.is_dir():
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copied aside and renamed: another worker seeding at once never sees half a folder.
        partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    except OSError:
        return
    try:
        # Contents only, not modes: the seed is read-only and numba must write beside it.
        for entry in source.iterdir():
            shutil.copyfile(entry, partial / entry.name)
        partial.rename(target)
    except OSError:
        pass  # the other worker's copy won the rename (the same files), or no room: compile
    finally:
        shutil.rmtree(partial, ignore_errors=True)
