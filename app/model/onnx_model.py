"""A bundle's model exported to ONNX and run by ONNX Runtime on the CPU."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from app.model.bundle import Bundle
from app.model.tf_model import blank, bucket_sizes, is_string

log = logging.getLogger(__name__)


def export_path(bundle: Bundle, cache_dir: Path) -> Path:
    """Where the bundle's export lives in ``cache_dir``: named by the model file's SHA-256."""
    import keras
    import tf2onnx

    # The exporter's versions are part of the key: a new converter may write a different graph.
    key = f"{bundle.model.digest()} keras {keras.__version__} tf2onnx {tf2onnx.__version__}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return cache_dir / f"{bundle.name}-{bundle.version}-{digest[:20]}.onnx"


def export_cached(bundle: Bundle, cache_dir: Path) -> Path:
    """The bundle's model as an ONNX file in ``cache_dir``, exported once per model file."""
    target = export_path(bundle, cache_dir)
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Several workers may export at once: each writes its own file, the rename is atomic.
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".onnx.part")
    os.close(fd)
    try:
        bundle.model.export_onnx(tmp)
        os.replace(tmp, target)
        # Older exports of this name/version are from replaced model files: keep the folder small.
        for stale in cache_dir.glob(f"{bundle.name}-{bundle.version}-*.onnx"):
            if stale != target:
                stale.unlink(missing_ok=True)
                _parity_file(stale).unlink(missing_ok=True)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def recorded_parity(onnx_path: Path, probe_rows: int) -> float | None:
    """The max abs difference measured against TensorFlow when this export was first served, if any.

    Valid only for the same ONNX Runtime version and probe; the export's name already pins the
    model file and the exporter. Reusing it spares the TensorFlow probe run (its first call traces
    the model: 0.7 s of the bench bundle's cold start).
    """
    import onnxruntime as ort

    try:
        record = json.loads(_parity_file(onnx_path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("onnxruntime") != ort.__version__ or record.get("probe_rows") != probe_rows:
        return None
    diff = record.get("max_abs_diff")
    return float(diff) if isinstance(diff, int | float) else None


def record_parity(onnx_path: Path, probe_rows: int, diff: float) -> None:
    """Keep the measured difference beside the export (atomically; a failure only costs time)."""
    import onnxruntime as ort

    record = {"max_abs_diff": diff, "onnxruntime": ort.__version__, "probe_rows": probe_rows}
    target = _parity_file(onnx_path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        os.replace(tmp, target)
    except OSError as exc:
        log.warning("could not record the ONNX parity check in %s: %s", target, exc)


def _parity_file(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".parity.json")


class OnnxModel:
    """Same interface as ``CompiledModel`` (call, warm_up, buckets) over an ONNX Runtime session."""

    def __init__(
        self,
        bundle: Bundle,
        onnx_path: Path,
        *,
        max_batch_size: int,
        threads: int,
        chunk_size: int,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads spinning for work would take CPU from preprocessing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.path = onnx_path
        self._inputs = {name: (spec.shape, spec.dtype) for name, spec in bundle.inputs.items()}
        session_inputs = [i.name for i in self._session.get_inputs()]
        if sorted(session_inputs) != sorted(self._inputs):
            raise ValueError(
                f"ONNX inputs {session_inputs} are not the model's {list(self._inputs)}"
            )
        names = [o.name for o in self._session.get_outputs()]
        wanted = list(bundle.outputs)
        if len(names) != len(wanted):
            raise ValueError(f"ONNX outputs {names} do not match the model's {wanted}")
        # The exporter keeps Keras output names when it can (else Identity:0, …, in model order).
        self._output_names = wanted if sorted(names) == sorted(wanted) else names
        self._rename = dict(zip(self._output_names, wanted, strict=True))
        self.buckets = bucket_sizes(max_batch_size)
        self._chunk = chunk_size or max_batch_size
        self.trace_count = 0
        """Nothing is traced: ONNX Runtime takes any batch size (kept for CompiledModel's users)."""

    @property
    def intra_op_threads(self) -> int:
        """The size of this session's intra-op pool (logged at start-up: app/threads.py)."""
        return self._session.get_session_options().intra_op_num_threads

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs for a batch of rows, run in chunks of at most ``chunk_size`` rows."""
        rows = len(next(iter(batch.values())))
        parts = []
        for start in range(0, rows, self._chunk):
            feed = {
                name: np.ascontiguousarray(x[start : start + self._chunk])
                for name, x in batch.items()
            }
            parts.append(self._session.run(self._output_names, feed))
        return {
            self._rename[name]: np.concatenate([p[i] for p in parts])
            if len(parts) > 1
            else parts[0][i]
            for i, name in enumerate(self._output_names)
        }

    def warm_up(self) -> None:
        """Run every bucket size once so the first requests pay no allocation."""
        for size in self.buckets:
            self(
                {
                    name: blank((size, *shape), dtype)
                    for name, (shape, dtype) in self._inputs.items()
                }
            )


def probe_batch(bundle: Bundle, rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs to compare runtimes on: normal floats; ids 0 and 1 (pad, unknown); b""."""
    rng = np.random.default_rng(seed)
    batch = {}
    for name, spec in bundle.inputs.items():
        shape = (rows, *spec.shape)
        if is_string(spec.dtype):
            batch[name] = blank(shape, spec.dtype)
        elif np.issubdtype(spec.dtype, np.integer):
            batch[name] = rng.integers(0, 2, shape).astype(spec.dtype)
        else:
            batch[name] = rng.standard_normal(shape).astype(spec.dtype)
    return batch


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Largest absolute difference over every output of two runs."""
    return max(float(np.max(np.abs(a[name] - b[name]))) for name in a)
