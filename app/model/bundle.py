"""Model bundles: bundle.yaml read, the model loaded safely, and the two checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from app.errors import BundleError
from app.preprocessing import PREPROCESSORS
from app.preprocessing.base import Preprocessor

MISSING_POLICIES = ("zeros", "required")
OUTPUT_KINDS = ("classification", "embedding")
# Preprocessor parameters that name a file of the bundle.
ASSET_PARAMS = ("vocabulary", "stats_file")


@dataclass(frozen=True)
class InputSpec:
    """One model input: the modality feeding it and how its features are made."""

    name: str
    modality: str
    missing: str
    preprocessor: Preprocessor

    @property
    def shape(self) -> tuple[int, ...]:
        return self.preprocessor.shape

    @property
    def dtype(self) -> np.dtype:
        return self.preprocessor.dtype


@dataclass(frozen=True)
class OutputSpec:
    """One model output: a classification over labels, or an embedding."""

    name: str
    kind: str
    shape: tuple[int, ...]
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """A loaded, checked bundle: the Keras model plus everything needed to feed and read it."""

    name: str
    version: int
    path: Path
    description: str
    model: Any
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]

    @property
    def by_modality(self) -> dict[str, InputSpec]:
        return {spec.modality: spec for spec in self.inputs.values()}


def load_bundle(
    path: Path, *, limits: dict[str, dict[str, Any]] | None = None, device: str | None = None
) -> Bundle:
    """Load ``path`` (models/<name>/<version>) or raise BundleError naming what disagrees.

    ``limits`` holds per-modality parameters from the service settings (max pixels, max seconds)
    that a bundle may tighten but not loosen.
    """
    name, version = path.parent.name, int(path.name)
    where = f"bundle {name}/{version} ({path})"
    spec = _read_yaml(bundle_file(path, "bundle.yaml", where), where)
    model = _load_model(bundle_file(path, "model.keras", where), where, device)
    model_inputs = {t.name: t for t in model.inputs}
    yaml_inputs = spec.get("inputs") or {}
    if not isinstance(yaml_inputs, dict):
        raise BundleError(f"{where}: 'inputs' must map model input names to their modality")
    for missing in sorted(set(model_inputs) - set(yaml_inputs)):
        raise BundleError(
            f"{where}: model input '{missing}' has no entry in bundle.yaml "
            f"(bundle.yaml has {sorted(yaml_inputs)})"
        )
    for extra in sorted(set(yaml_inputs) - set(model_inputs)):
        raise BundleError(
            f"{where}: bundle.yaml input '{extra}' is not a model input "
            f"(the model has {sorted(model_inputs)})"
        )
    inputs = {
        input_name: _input_spec(
            input_name,
            yaml_inputs[input_name],
            model_inputs[input_name],
            path,
            where,
            (limits or {}),
        )
        for input_name in model_inputs
    }
    modalities = [s.modality for s in inputs.values()]
    if len(set(modalities)) != len(modalities):
        raise BundleError(f"{where}: each modality may feed one input only, got {modalities}")
    outputs = _output_specs(model, spec.get("outputs") or {}, path, where)
    return Bundle(
        name=name,
        version=version,
        path=path,
        description=str(spec.get("description", "")),
        model=model,
        inputs=inputs,
        outputs=outputs,
    )


def bundle_file(bundle_dir: Path, file_name: Any, where: str, what: str = "file") -> Path:
    """``bundle_dir / file_name``, refused when it is absolute, has ``..`` or resolves outside."""
    name = str(file_name)
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise BundleError(f"{where}: {what} {name!r} must be a plain path inside the bundle folder")
    path = bundle_dir / name
    # A symlink is followed to where it really points: that must stay inside the bundle too.
    resolved = path.resolve()
    if not resolved.is_relative_to(bundle_dir.resolve()):
        raise BundleError(
            f"{where}: {what} {name!r} resolves to {resolved}, outside the bundle folder"
        )
    return path


def _read_yaml(path: Path, where: str) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"{where}: bundle.yaml is missing")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BundleError(f"{where}: bundle.yaml is not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise BundleError(f"{where}: bundle.yaml must be a mapping")
    return spec


def _load_model(path: Path, where: str, device: str | None) -> Any:
    import keras
    import tensorflow as tf

    if not path.is_file():
        raise BundleError(f"{where}: model.keras is missing")
    try:
        with tf.device(device or "/CPU:0"):
            # safe_mode refuses pickled lambdas: a bundle cannot run arbitrary code on load.
            return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file; all mean "cannot load"
        raise BundleError(f"{where}: model.keras cannot be loaded safely: {exc}") from exc


def _input_spec(
    name: str,
    entry: Any,
    tensor: Any,
    bundle_dir: Path,
    where: str,
    limits: dict[str, dict[str, Any]],
) -> InputSpec:
    where = f"{where}, input '{name}'"
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: expected a mapping with 'modality', got {entry!r}")
    modality = entry.get("modality")
    if modality not in PREPROCESSORS:
        raise BundleError(f"{where}: modality {modality!r}; known: {sorted(PREPROCESSORS)}")
    missing = entry.get("missing", "zeros")
    if missing not in MISSING_POLICIES:
        raise BundleError(f"{where}: missing {missing!r}; known: {list(MISSING_POLICIES)}")
    shape = tuple(tensor.shape[1:])
    if any(dim is None for dim in shape):
        raise BundleError(
            f"{where}: the model input shape {tuple(tensor.shape)} must be fixed "
            "apart from the batch axis"
        )
    params = {**limits.get(modality, {}), **(entry.get("params") or {})}
    for key in ASSET_PARAMS:
        if params.get(key):
            bundle_file(bundle_dir, params[key], where, what=key)
    try:
        preprocessor = PREPROCESSORS[modality](
            params, bundle_dir=bundle_dir, shape=shape, dtype=str(tensor.dtype)
        )
    except BundleError as exc:
        raise BundleError(f"{where}: {exc}") from None
    return InputSpec(name=name, modality=modality, missing=missing, preprocessor=preprocessor)


def _output_specs(model: Any, entries: Any, bundle_dir: Path, where: str) -> dict[str, OutputSpec]:
    names = list(model.output_names)
    if not isinstance(entries, dict) or set(entries) != set(names):
        got = sorted(entries) if isinstance(entries, dict) else entries
        raise BundleError(f"{where}: bundle.yaml outputs {got} but the model outputs {names}")
    outputs = {}
    for name, tensor in zip(names, model.outputs, strict=True):
        entry, shape = entries[name] or {}, tuple(tensor.shape[1:])
        kind = entry.get("kind")
        if kind not in OUTPUT_KINDS:
            raise BundleError(
                f"{where}, output '{name}': kind {kind!r}; known: {list(OUTPUT_KINDS)}"
            )
        if len(shape) != 1 or shape[0] is None:
            raise BundleError(
                f"{where}, output '{name}': a {kind} output must have shape "
                f"(batch, n), the model has {tuple(tensor.shape)}"
            )
        labels: tuple[str, ...] = ()
        if kind == "classification":
            labels = _read_labels(bundle_dir, entry.get("labels"), f"{where}, output '{name}'")
            if len(labels) != shape[0]:
                raise BundleError(
                    f"{where}, output '{name}': {entry['labels']} has {len(labels)} "
                    f"labels but the model output has {shape[0]} units"
                )
        outputs[name] = OutputSpec(name=name, kind=kind, shape=shape, labels=labels)
    return outputs


def _read_labels(bundle_dir: Path, file_name: Any, where: str) -> tuple[str, ...]:
    if not file_name:
        raise BundleError(f"{where}: a classification output needs a 'labels' file")
    path = bundle_file(bundle_dir, file_name, where, what="labels")
    if not path.is_file():
        raise BundleError(f"{where}: labels file {path} is missing")
    return tuple(
        line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    )
