"""Model bundles: bundle.yaml read, the model loaded safely, and the two checked together."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BundleError, ServiceError
from app.model.bundle_files import bundle_file, read_yaml, version_of
from app.model.model_file import ModelFile, TensorInfo, load_model_file
from app.model.outputs import OutputSpec, output_specs
from app.preprocessing import PREPROCESSORS, make_preprocessor
from app.preprocessing.base import Preprocessor

MISSING_POLICIES = ("zeros", "required")
INPUT_KEYS = {"modality", "part", "missing", "params"}
# Preprocessor parameters that name a file of the bundle.
ASSET_PARAMS = ("vocabulary", "stats_file", "tokenizer_file")
STRING_DTYPE = np.dtype(object)
# Part names travel as multipart field names, JSON keys and v2 tensor names.
PART_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
TOP_K = "top_k"


@dataclass(frozen=True)
class InputSpec:
    """One model input: the request part and modality feeding it, and how its features are made."""

    name: str
    modality: str
    part: str
    missing: str
    preprocessor: Preprocessor
    shape: tuple[int, ...]
    dtype: np.dtype
    feed: str | None = None
    """With a tokenizer giving several tensors: which one this input takes."""

    def empty(self) -> np.ndarray:
        """What stands for a missing part: zeros, or empty strings for a string input."""
        if self.dtype == STRING_DTYPE:
            return np.full(self.shape, b"", dtype=object)
        return np.zeros(self.shape, self.dtype)


@dataclass(frozen=True)
class PartSpec:
    """One request part (multipart field, JSON key, v2 BYTES input) and the inputs made from it."""

    name: str
    modality: str
    inputs: tuple[InputSpec, ...]

    @property
    def missing(self) -> str:
        """required when any input made from it is."""
        required = any(spec.missing == "required" for spec in self.inputs)
        return "required" if required else "zeros"

    @property
    def accepted_formats(self) -> tuple[str, ...]:
        return self.inputs[0].preprocessor.accepted_formats

    def __call__(self, data: bytes | str) -> dict[str, np.ndarray]:
        """Every input's features from one upload; a shared preprocessor runs once."""
        made: dict[int, Any] = {}
        features = {}
        for spec in self.inputs:
            key = id(spec.preprocessor)
            if key not in made:
                try:
                    made[key] = spec.preprocessor(data)
                except ServiceError as exc:
                    raise self._named(exc) from None
            value = made[key]
            if spec.feed is not None:
                value = value[spec.feed].astype(spec.dtype, copy=False)
            features[spec.name] = value
        return features

    def _named(self, exc: ServiceError) -> ServiceError:
        """A preprocessor's error, about its modality, told about this part (``back: ...``)."""
        if self.name != self.modality and exc.field == self.modality:
            exc.field = self.name
            if exc.message.startswith(f"{self.modality}:"):
                exc.message = self.name + exc.message[len(self.modality) :]
                exc.args = (exc.message,)
        return exc


@dataclass(frozen=True)
class Bundle:
    """A loaded, checked bundle: the model plus everything needed to feed and read it."""

    name: str
    version: int
    path: Path
    description: str
    model: ModelFile
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    parts: dict[str, PartSpec]


def load_bundle(
    path: Path, *, limits: dict[str, dict[str, Any]] | None = None, device: str | None = None
) -> Bundle:
    """Load ``path`` (models/<name>/<version>) or raise BundleError naming what disagrees.

    ``limits`` holds per-modality parameters from the service settings (max pixels, max seconds)
    that a bundle may tighten but not loosen.
    """
    name = path.parent.name
    where = f"bundle {name}/{path.name} ({path})"
    version = version_of(path, where)
    spec = read_yaml(bundle_file(path, "bundle.yaml", where), where)
    model = load_model_file(path, where, device)
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
    inputs = _input_specs(
        [(model_inputs[n], yaml_inputs[n]) for n in model_inputs], path, where, limits or {}
    )
    parts = _part_specs(inputs, where)
    outputs = output_specs(model, spec.get("outputs") or {}, path, where)
    return Bundle(
        name=name,
        version=version,
        path=path,
        description=str(spec.get("description", "")),
        model=model,
        inputs=inputs,
        outputs=outputs,
        parts=parts,
    )


def _input_specs(
    entries: list[tuple[TensorInfo, Any]],
    bundle_dir: Path,
    where: str,
    limits: dict[str, dict[str, Any]],
) -> dict[str, InputSpec]:
    """Every input's spec; inputs of one part with one tokenizer share its preprocessor."""
    shared: dict[tuple[str, str], tuple[Any, Preprocessor, tuple[int, ...]]] = {}
    specs = {}
    for tensor, entry in entries:
        here = f"{where}, input '{tensor.name}'"
        modality, part, missing, params = _read_input(entry, here)
        shape = _fixed_shape(tensor, here)
        params = {**limits.get(modality, {}), **params}
        for key in ASSET_PARAMS:
            if params.get(key):
                bundle_file(bundle_dir, params[key], here, what=key)
        feed = None
        if modality == "text" and params.get("tokenizer") == "hf":
            feed, params = params.get("feed", "input_ids"), _without(params, "feed")
            preprocessor = _shared_tokenizer(
                shared, (part, modality), params, shape, tensor, bundle_dir, here
            )
            if feed not in preprocessor.FEEDS:
                raise BundleError(f"{here}: feed {feed!r}; known: {list(preprocessor.FEEDS)}")
        else:
            if "feed" in params:
                raise BundleError(f"{here}: feed is only used with tokenizer 'hf'")
            preprocessor = _preprocessor(modality, params, shape, tensor.dtype, bundle_dir, here)
        dtype = STRING_DTYPE if tensor.dtype == "string" else np.dtype(tensor.dtype)
        specs[tensor.name] = InputSpec(
            tensor.name, modality, part, missing, preprocessor, shape, dtype, feed
        )
    return specs


def _read_input(entry: Any, where: str) -> tuple[str, str, str, dict[str, Any]]:
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: expected a mapping with 'modality', got {entry!r}")
    unknown = set(entry) - INPUT_KEYS
    if unknown:
        raise BundleError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(INPUT_KEYS)}")
    modality = entry.get("modality")
    if modality not in PREPROCESSORS:
        raise BundleError(f"{where}: modality {modality!r}; known: {sorted(PREPROCESSORS)}")
    part = entry.get("part", modality)
    if not isinstance(part, str) or not PART_NAME.fullmatch(part) or part == TOP_K:
        raise BundleError(
            f"{where}: part {part!r} must be a name of letters, digits, '_', '-' or '.' "
            f"(and not {TOP_K!r})"
        )
    missing = entry.get("missing", "zeros")
    if missing not in MISSING_POLICIES:
        raise BundleError(f"{where}: missing {missing!r}; known: {list(MISSING_POLICIES)}")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise BundleError(f"{where}: params must be a mapping, got {params!r}")
    return modality, part, missing, params


def _fixed_shape(tensor: TensorInfo, where: str) -> tuple[int, ...]:
    if any(dim is None for dim in tensor.shape):
        raise BundleError(
            f"{where}: the model input shape {(None, *tensor.shape)} must be fixed "
            "apart from the batch axis"
        )
    return tuple(int(dim) for dim in tensor.shape if dim is not None)


def _preprocessor(
    modality: str,
    params: dict[str, Any],
    shape: tuple[int, ...],
    dtype: str,
    bundle_dir: Path,
    where: str,
) -> Preprocessor:
    try:
        return make_preprocessor(modality, params, bundle_dir=bundle_dir, shape=shape, dtype=dtype)
    except BundleError as exc:
        raise BundleError(f"{where}: {exc}") from None


def _shared_tokenizer(
    shared: dict[tuple[str, str], tuple[Any, Preprocessor, tuple[int, ...]]],
    key: tuple[str, str],
    params: dict[str, Any],
    shape: tuple[int, ...],
    tensor: TensorInfo,
    bundle_dir: Path,
    where: str,
) -> Any:
    """One tokenizer per part: built by its first input, the others must declare the same."""
    if key in shared:
        first_params, preprocessor, first_shape = shared[key]
        if params != first_params or shape != first_shape:
            raise BundleError(
                f"{where}: inputs of part {key[0]!r} share one tokenizer, so they need the same "
                f"params and length: {params} {shape} here, {first_params} {first_shape} before"
            )
        return preprocessor
    preprocessor = _preprocessor("text", params, shape, tensor.dtype, bundle_dir, where)
    shared[key] = (params, preprocessor, shape)
    return preprocessor


def _without(params: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != key}


def _part_specs(inputs: dict[str, InputSpec], where: str) -> dict[str, PartSpec]:
    grouped: dict[str, list[InputSpec]] = {}
    for spec in inputs.values():
        grouped.setdefault(spec.part, []).append(spec)
    parts = {}
    for name, specs in grouped.items():
        modalities = sorted({spec.modality for spec in specs})
        if len(modalities) > 1:
            raise BundleError(
                f"{where}: part {name!r} feeds inputs of modalities {modalities} "
                f"({', '.join(s.name for s in specs)}); one part is one upload of one modality"
            )
        parts[name] = PartSpec(name, modalities[0], tuple(specs))
    return parts
