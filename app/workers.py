"""How many gunicorn worker processes a host gets when ``MMS_WORKERS`` does not say."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Where the NVIDIA driver lists the GPUs it sees: looked at without importing TensorFlow, which
# must not load in the master (it does not survive fork).
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def default_workers(device: str, environ: Mapping[str, str]) -> int:
    """One per core this process may run on; one where the service will use a GPU (``device``:
    the device setting)."""
    if _uses_gpu(device.strip().lower(), environ):
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def _uses_gpu(device: str, environ: Mapping[str, str]) -> bool:
    if device == "cpu":
        return False
    if device != "auto":  # gpu, GPU:n
        return True
    if environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())
