"""Sizes of the numeric libraries' thread pools, fixed before any of them can start.

The service parallelises across requests (gunicorn's request threads, the batcher), so a pool per
library on top of that only oversubscribes the cores: on 2 cores the default service ran at 96
req/s with OpenBLAS's threads against 146.5 req/s with one. OpenBLAS sizes its pool
when it is loaded, so these variables must be set before the first ``import numpy``: importing
this module sets them, and ``app/__init__.py`` imports it before anything else, so every entry
point (gunicorn's config, ``wsgi.py``, ``python -m app``) goes through it. Each keeps the value
already in the environment: ``OMP_NUM_THREADS=2 gunicorn ...`` gets 2.

TensorFlow's and ONNX Runtime's pools are sized from the settings instead (``tf_intra_op_threads``,
``tf_inter_op_threads``; see app/model/device.py). Nothing heavy is imported here at module level.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

# The pool each variable sizes, and who loads it here.
POOL_VARIABLES = {
    "OMP_NUM_THREADS": "1",  # OpenMP: scikit-learn's libgomp (librosa), oneDNN where built so
    "OPENBLAS_NUM_THREADS": "1",  # OpenBLAS: numpy's, scipy's and OpenCV's own copies
    "MKL_NUM_THREADS": "1",  # MKL, where a numpy or scipy build links it
    "NUMBA_NUM_THREADS": "1",  # numba's parallel kernels (librosa's)
    "OPENCV_FOR_THREADS_NUM": "1",  # OpenCV's parallel_for (read once, when cv2 loads)
}
log = logging.getLogger(__name__)


def fix_thread_pools(environ: MutableMapping[str, str] = os.environ) -> None:
    """Give each pool's variable its default unless the environment already sets it."""
    for name, value in POOL_VARIABLES.items():
        environ.setdefault(name, value)


def thread_pools(models: Iterable[object] = ()) -> dict[str, Any]:
    """Each loaded library's pool size as this process sees it; ``models``: the served ones."""
    from threadpoolctl import threadpool_info

    pools: dict[str, Any] = {
        # Several copies of a library can be loaded (numpy's, scipy's, OpenCV's OpenBLAS).
        f"{info['internal_api']}:{Path(info['filepath']).name}": info["num_threads"]
        for info in threadpool_info()
    }
    # Only libraries already loaded: importing one just to report it would start it.
    if "cv2" in sys.modules:
        pools["opencv"] = sys.modules["cv2"].getNumThreads()
    if "numba" in sys.modules:
        # The size of numba's pool; get_num_threads() would launch the pool to answer.
        pools["numba"] = sys.modules["numba"].config.NUMBA_NUM_THREADS
    if "tensorflow" in sys.modules:
        threading = sys.modules["tensorflow"].config.threading
        pools["tensorflow_intra_op"] = threading.get_intra_op_parallelism_threads()
        pools["tensorflow_inter_op"] = threading.get_inter_op_parallelism_threads()
    # ONNX Runtime has a pool per session: one per model it runs (app/model/onnx_model.py).
    intra = sorted({m.intra_op_threads for m in models if hasattr(m, "intra_op_threads")})
    if intra:
        pools["onnxruntime_intra_op"] = intra[0] if len(intra) == 1 else intra
    return pools


def log_thread_pools(models: Iterable[object] = ()) -> None:
    """One INFO line (event thread_pools): every pool's size and the variables that set them."""
    pools = thread_pools(models)
    log.info(
        "thread pools: %s",
        ", ".join(f"{name} {size}" for name, size in pools.items()),
        extra={
            "event": "thread_pools",
            "pools": pools,
            "variables": {name: os.environ.get(name) for name in POOL_VARIABLES},
        },
    )


fix_thread_pools()
