"""Which runtime runs a bundle's model: TensorFlow, or ONNX Runtime when it matches TensorFlow."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.model.bundle import Bundle
from app.model.device import Device, tensorflow_threads
from app.model.onnx_model import (
    OnnxModel,
    export_cached,
    export_path,
    max_abs_diff,
    probe_batch,
    record_parity,
    recorded_parity,
)
from app.model.tf_model import CompiledModel, is_string
from app.settings import Settings

log = logging.getLogger(__name__)
RUNTIMES = ("tensorflow", "onnx", "auto")
PROBE_ROWS = 2


def _temp_cache() -> Path:
    """The system temp dir's cache folder (tempfile reads TMPDIR when asked, not at import)."""
    return Path(tempfile.gettempdir()) / "mms-onnx"


@dataclass(frozen=True)
class Inference:
    """The callable that runs batches, and what to tell a user about it."""

    model: CompiledModel | OnnxModel
    runtime: str
    """tensorflow or onnxruntime."""
    note: str | None = None
    """Why TensorFlow serves a model that ONNX Runtime was asked for, if it does."""


def onnx_cache_dir(settings: Settings) -> Path:
    """Where exported ONNX files are kept; the system temp dir unless set."""
    if settings.onnx_cache_dir:
        return Path(settings.onnx_cache_dir)
    return _temp_cache()


def export_location(bundle: Bundle, settings: Settings) -> tuple[Path, Path]:
    """(the export's path, its cache folder): the configured cache when it holds the export or
    can take it, else the temp dir's (an image ships its own bundles' exports read-only; a
    bundle mounted beside them is exported where the container may write)."""
    cache = onnx_cache_dir(settings)
    path = export_path(bundle, cache)
    if path.is_file() or not _read_only(cache):
        return path, cache
    return export_path(bundle, _temp_cache()), _temp_cache()


def _read_only(folder: Path) -> bool:
    """Whether ``folder`` (or, while it does not exist, its nearest parent) is a folder that takes
    no files; anything else in the way is a mistake the export will report."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK)


def build_inference(
    bundle: Bundle, settings: Settings, device: Device, *, max_batch_size: int
) -> Inference:
    """The runtime the settings ask for; ONNX falls back to TensorFlow, saying why, if it fails."""
    wanted = settings.inference_runtime.strip().lower()
    if wanted not in RUNTIMES:
        raise ValueError(f"inference_runtime is {wanted!r}; expected one of {', '.join(RUNTIMES)}")
    compiled = CompiledModel(bundle, device=device.tf_name, max_batch_size=max_batch_size)
    on_cpu = device.tf_name.upper().startswith("/CPU")
    if wanted == "tensorflow" or (wanted == "auto" and not on_cpu):
        return Inference(compiled, "tensorflow")
    where = f"{bundle.name}/{bundle.version}"
    if any(is_string(spec.dtype) for spec in bundle.inputs.values()):
        # The string ops such inputs feed (TextVectorization) have no standard ONNX ops.
        return _fall_back(compiled, where, "string inputs cannot be exported to ONNX")
    try:
        rows = min(PROBE_ROWS, max_batch_size)
        path, cache = export_location(bundle, settings)
        diff = recorded_parity(path, rows) if path.is_file() else None
        if diff is None:
            probe = probe_batch(bundle, rows)
            expected = compiled(probe)  # also builds the model, which the exporter needs
            path = export_cached(bundle, cache)
        threads = tensorflow_threads(settings)[0]  # the same intra-op pool size as TensorFlow's
        onnx = OnnxModel(
            bundle,
            path,
            max_batch_size=max_batch_size,
            threads=threads,
            chunk_size=settings.onnx_chunk_size,
        )
        parity = "recorded" if diff is not None else "measured"
        if diff is None:
            diff = max_abs_diff(onnx(probe), expected)
            record_parity(path, rows, diff)
    except Exception as exc:  # any exporter or runtime failure: serve with TensorFlow instead
        reason = f"export or ONNX Runtime failed: {type(exc).__name__}: {exc}"
        return _fall_back(compiled, where, " ".join(reason.split()))
    if not diff <= settings.onnx_parity_tolerance:
        return _fall_back(
            compiled,
            where,
            f"ONNX outputs differ from Keras by {diff:.3g} "
            f"(onnx_parity_tolerance {settings.onnx_parity_tolerance:g})",
        )
    log.info(
        "%s runs on ONNX Runtime (%s; outputs within %.3g of Keras, %s)",
        where,
        path,
        diff,
        parity,
        extra={
            "event": "inference_runtime",
            "model": where,
            "runtime": "onnxruntime",
            "onnx_path": str(path),
            "parity_max_abs_diff": diff,
            "parity": parity,
        },
    )
    return Inference(onnx, "onnxruntime")


def _fall_back(compiled: CompiledModel, where: str, reason: str) -> Inference:
    """TensorFlow serves the model; the log and the metadata say why."""
    log.warning(
        "%s runs on TensorFlow: %s",
        where,
        reason,
        extra={
            "event": "inference_runtime",
            "model": where,
            "runtime": "tensorflow",
            "fallback_reason": reason,
        },
    )
    return Inference(compiled, "tensorflow", note=reason)
