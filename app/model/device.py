"""TensorFlow set-up for this process: threads, GPU memory growth, and the device to run on."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.settings import Settings

log = logging.getLogger(__name__)
# Said when a GPU was demanded and TensorFlow sees none: the two usual causes, and the way out.
NO_GPU = (
    "device {wanted!r} (MMS_DEVICE) asks for a GPU, but no GPU is visible to TensorFlow: give "
    "the process one (docker run --gpus all, with the NVIDIA Container Toolkit on the host; "
    "check nvidia-smi and CUDA_VISIBLE_DEVICES), or run on the CPU with MMS_DEVICE=cpu "
    "(or MMS_DEVICE=auto: a GPU when there is one, else the CPU)"
)


@dataclass(frozen=True)
class Device:
    """Where the models of this process run."""

    tf_name: str
    """The TensorFlow device string, e.g. /GPU:0."""
    description: str
    """What to show a user: the device and, for a GPU, its model name."""


def tensorflow_threads(settings: Settings) -> tuple[int, int]:
    """TensorFlow's intra-op and inter-op pool sizes: the settings', else half the cores and 1."""
    # Measured on 2 cores (bench/): TensorFlow's own choice (all cores) fights the preprocessing
    # threads and costs ~25% more CPU per request than one intra-op thread.
    intra = settings.tf_intra_op_threads or max(1, settings.cpu_cores() // 2)
    return intra, settings.tf_inter_op_threads or 1


def configure_tensorflow(settings: Settings) -> Device:
    """Apply thread and GPU settings (before TensorFlow's first op) and pick the device."""
    import tensorflow as tf

    intra, inter = tensorflow_threads(settings)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        # Already initialised: a second app in the same process (tests) keeps the first's threads.
        log.debug("TensorFlow threads already fixed for this process")
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            log.debug("GPU memory growth already fixed for %s", gpu.name)
    device = _choose(settings.device, len(gpus))
    description = device
    if device.startswith("GPU"):
        details = tf.config.experimental.get_device_details(gpus[int(device.split(":")[1])])
        description = f"{device} ({details.get('device_name', 'unknown GPU')})"
    log.info(
        "running models on %s (%d GPU(s) visible; TensorFlow threads intra %d, inter %d)",
        description,
        len(gpus),
        intra,
        inter,
        extra={
            "event": "device",
            "device": description,
            "gpus_visible": len(gpus),
            "tf_intra_op_threads": intra,
            "tf_inter_op_threads": inter,
        },
    )
    return Device(tf_name=f"/{device}", description=description)


def _choose(wanted: str, n_gpus: int) -> str:
    wanted = wanted.strip().lower()
    if wanted == "cpu" or (wanted == "auto" and n_gpus == 0):
        return "CPU:0"
    if wanted in ("auto", "gpu"):
        if n_gpus == 0:  # only "gpu" gets here: auto without a GPU took the CPU above
            raise ValueError(NO_GPU.format(wanted=wanted))
        return "GPU:0"
    if wanted.startswith("gpu:") and wanted[4:].isdigit():
        index = int(wanted[4:])
        if n_gpus == 0:
            raise ValueError(NO_GPU.format(wanted=wanted))
        if index >= n_gpus:
            raise ValueError(
                f"device {wanted!r} asked for, but {n_gpus} GPU(s) are visible (gpu:0 to "
                f"gpu:{n_gpus - 1})"
            )
        return f"GPU:{index}"
    raise ValueError(f"device {wanted!r}; expected auto, cpu, gpu or gpu:N")
