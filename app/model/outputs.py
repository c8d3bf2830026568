"""Model outputs: the kinds a bundle declares for them, checked, and how each kind is answered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BundleError
from app.model.bundle_files import read_labels
from app.model.model_file import ModelFile, TensorInfo

OUTPUT_KINDS = ("classification", "multilabel", "regression", "embedding")
OUTPUT_KEYS = {
    "classification": {"kind", "labels"},
    "multilabel": {"kind", "labels", "threshold"},
    "regression": {"kind", "names"},
    "embedding": {"kind"},
}
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class OutputSpec:
    """One model output and how it is answered."""

    name: str
    kind: str
    shape: tuple[int, ...]
    labels: tuple[str, ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    """multilabel: the score a label needs to be answered."""
    names: tuple[str, ...] = ()
    """regression: one name per unit, to answer {name: value}; empty for a plain list."""


def output_specs(
    model: ModelFile, entries: Any, bundle_dir: Path, where: str
) -> dict[str, OutputSpec]:
    """Each model output's spec from bundle.yaml's ``outputs``; BundleError names what is off."""
    names = [t.name for t in model.outputs]
    if not isinstance(entries, dict) or set(entries) != set(names):
        got = sorted(entries) if isinstance(entries, dict) else entries
        raise BundleError(f"{where}: bundle.yaml outputs {got} but the model outputs {names}")
    return {
        tensor.name: _output_spec(tensor, entries[tensor.name] or {}, bundle_dir, where)
        for tensor in model.outputs
    }


def _output_spec(tensor: TensorInfo, entry: Any, bundle_dir: Path, where: str) -> OutputSpec:
    where = f"{where}, output '{tensor.name}'"
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: expected a mapping with 'kind', got {entry!r}")
    kind = entry.get("kind")
    if kind not in OUTPUT_KINDS:
        raise BundleError(f"{where}: kind {kind!r}; known: {list(OUTPUT_KINDS)}")
    unknown = set(entry) - OUTPUT_KEYS[kind]
    if unknown:
        raise BundleError(
            f"{where}: {sorted(unknown)} not used with kind {kind!r}; "
            f"known: {sorted(OUTPUT_KEYS[kind])}"
        )
    shape = tensor.shape
    if len(shape) != 1 or shape[0] is None:
        raise BundleError(
            f"{where}: a {kind} output must have shape (batch, n), the model has {(None, *shape)}"
        )
    units = int(shape[0])
    labels: tuple[str, ...] = ()
    if kind in ("classification", "multilabel"):
        labels = read_labels(bundle_dir, entry.get("labels"), kind, where)
        if len(labels) != units:
            raise BundleError(
                f"{where}: {entry['labels']} has {len(labels)} labels but the model output "
                f"has {units} units"
            )
    threshold = entry.get("threshold", DEFAULT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise BundleError(f"{where}: threshold must be a number, got {threshold!r}")
    if not 0.0 <= threshold <= 1.0:
        raise BundleError(f"{where}: threshold must be within [0, 1], got {threshold}")
    names = _regression_names(entry.get("names"), units, where)
    return OutputSpec(tensor.name, kind, (units,), labels, float(threshold), names)


def _regression_names(value: Any, units: int, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
        raise BundleError(f"{where}: names must be a list of strings, got {value!r}")
    if len(value) != units or len(set(value)) != len(value):
        raise BundleError(
            f"{where}: names gives {len(value)} (distinct: {len(set(value))}) names but the "
            f"model output has {units} units"
        )
    return tuple(value)


def answer(spec: OutputSpec, values: np.ndarray, top_k: int) -> Any:
    """One output row as the v1 protocol answers it, by the output's kind."""
    if spec.kind == "embedding":
        return [round(float(v), 6) for v in values]
    if spec.kind == "regression":
        # Nine significant digits hold a float32 exactly; rounding to places would lose 1e-7.
        floats = [float(f"{v:.9g}") for v in values]
        return dict(zip(spec.names, floats, strict=True)) if spec.names else floats
    best = np.argsort(-values, kind="stable")
    if spec.kind == "multilabel":
        best = [i for i in best if values[i] >= spec.threshold]
    else:
        best = best[:top_k]
    return [{"label": spec.labels[i], "score": round(float(values[i]), 6)} for i in best]
