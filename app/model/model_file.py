"""A bundle's model file, whatever its format (.keras, .h5, SavedModel), behind one interface."""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BundleError

MODEL_FILES = ("model.keras", "model.h5", "saved_model")
# A Keras file's format by its suffix (a bundle names it model.keras or model.h5).
KERAS_SUFFIXES = {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}
SERVING_SIGNATURE = "serving_default"
MAX_REASON = 600  # characters of a loader's message kept in a BundleError (TF's can be pages)


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output, batch axis dropped."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    """"float32", "int32", "int64", "uint8", "string", ..."""
    activation: str | None = None
    """Outputs only: "softmax", "sigmoid", "linear", ... when knowable."""


class ModelFile:
    """What the rest of the service sees of a loaded model, whatever the format."""

    path: Path
    """The model.keras / model.h5 file or the saved_model/ folder."""
    format: str
    """keras, h5 or saved_model."""
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    """In the model's output order."""

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The outputs for a batch, keyed by output name; usable inside ``tf.function``."""
        raise NotImplementedError

    def export_onnx(self, target: str) -> None:
        """Write the model as ONNX to ``target``; raises on any failure."""
        raise NotImplementedError

    def digest(self) -> str:
        """SHA-256 hex of the model file, or of every file of the folder with its path."""
        digest = hashlib.sha256()
        if self.path.is_file():
            _hash_file(digest, self.path)
            return digest.hexdigest()
        for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
            relative = file.relative_to(self.path).as_posix()
            # Names and sizes are hashed too: moving bytes between files changes the digest.
            digest.update(f"{relative}\0{file.stat().st_size}\0".encode())
            _hash_file(digest, file)
        return digest.hexdigest()


class KerasModelFile(ModelFile):
    """A ``model.keras`` or ``model.h5`` file loaded by Keras 3 in safe mode."""

    def __init__(self, path: Path, model: Any) -> None:
        self.path = path
        self.format = KERAS_SUFFIXES.get(path.suffix.lower(), "keras")
        self.model = model
        named_inputs = _keras_inputs(model)
        self.inputs = [_info(name, t.shape, str(t.dtype)) for name, t in named_inputs]
        self.outputs = [
            _info(name, t.shape, str(t.dtype), _activation(t)) for name, t in _keras_outputs(model)
        ]

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The outputs for a batch, keyed by output name; usable inside ``tf.function``."""
        outputs = self.model(self._structured(inputs), training=False)
        names = [o.name for o in self.outputs]
        if isinstance(outputs, dict):
            return {name: outputs[name] for name in names}
        if not isinstance(outputs, list | tuple):
            outputs = [outputs]
        return dict(zip(names, outputs, strict=True))

    def _structured(self, inputs: dict[str, Any]) -> Any:
        """``inputs`` as the model was built to take them (Keras warns on any other shape)."""
        structure = getattr(self.model, "input", None)
        if isinstance(structure, dict):
            return inputs
        names = [i.name for i in self.inputs]
        if isinstance(structure, list | tuple):
            return [inputs[name] for name in names]
        return inputs[names[0]] if len(names) == 1 else [inputs[name] for name in names]

    def export_onnx(self, target: str) -> None:
        """Write the model as ONNX to ``target`` with Keras' exporter; raises on any failure."""
        if not getattr(self.model, "_called", True):
            # Keras exports only a model it has seen called; one blank row is enough.
            self({i.name: _blank_row(i) for i in self.inputs})
        with _quiet_converter():
            self.model.export(target, format="onnx", verbose=False)


class SavedModelFile(ModelFile):
    """A ``saved_model/`` folder, served through its ``serving_default`` signature."""

    def __init__(self, path: Path, loaded: Any, where: str) -> None:
        self.path = path
        self.format = "saved_model"
        signatures = dict(loaded.signatures)
        if SERVING_SIGNATURE not in signatures:
            raise BundleError(
                f"{where}: saved_model/ has no '{SERVING_SIGNATURE}' signature; "
                f"it has {sorted(signatures) or 'none'}"
            )
        # The signature's variables belong to the loaded object: keep it alive with them.
        self._loaded = loaded
        self._signature = signatures[SERVING_SIGNATURE]
        args, kwargs = self._signature.structured_input_signature
        if args:
            raise BundleError(f"{where}: saved_model/ '{SERVING_SIGNATURE}' takes unnamed inputs")
        self.inputs = [_info(name, spec.shape, spec.dtype.name) for name, spec in kwargs.items()]
        outputs = self._signature.structured_outputs
        if not isinstance(outputs, dict):
            raise BundleError(f"{where}: saved_model/ '{SERVING_SIGNATURE}' has unnamed outputs")
        # A signature's outputs are a map: output_0, output_1, … in number order is the model's.
        self.outputs = [
            _info(name, outputs[name].shape, outputs[name].dtype.name)
            for name in sorted(outputs, key=_natural_key)
        ]

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The outputs for a batch, keyed by output name; usable inside ``tf.function``."""
        outputs = self._signature(**inputs)
        return {o.name: outputs[o.name] for o in self.outputs}

    def export_onnx(self, target: str) -> None:
        """Write the signature as ONNX to ``target`` with tf2onnx; raises on any failure."""
        import tensorflow as tf
        import tf2onnx

        names = [i.name for i in self.inputs]
        _, kwargs = self._signature.structured_input_signature
        specs = [tf.TensorSpec(kwargs[name].shape, kwargs[name].dtype, name=name) for name in names]

        # Named specs name the ONNX inputs; a returned dict names its outputs.
        @tf.function(input_signature=specs)
        def serve(*tensors: Any) -> dict[str, Any]:
            return self(dict(zip(names, tensors, strict=True)))

        with _quiet_converter():
            _patch_tf2onnx()
            tf2onnx.convert.from_function(serve, specs, output_path=target)


def find_model_file(bundle_dir: Path, where: str) -> Path:
    """The bundle's one model file or folder; a BundleError when there is none or several."""
    found = [bundle_dir / name for name in MODEL_FILES if (bundle_dir / name).exists()]
    if not found:
        raise BundleError(f"{where}: no model: expected one of {', '.join(_shown(MODEL_FILES))}")
    if len(found) > 1:
        names = ", ".join(_shown(p.name for p in found))
        raise BundleError(f"{where}: several models ({names}); keep exactly one")
    path = found[0]
    if path.name == "saved_model" and not path.is_dir():
        raise BundleError(f"{where}: saved_model must be a folder (a TensorFlow SavedModel)")
    if path.name != "saved_model" and not path.is_file():
        raise BundleError(f"{where}: {path.name} must be a file")
    root = bundle_dir.resolve()
    # Symlinks are followed to where they really point: that must stay inside the bundle.
    for part in (path, *(path.rglob("*") if path.is_dir() else ())):
        resolved = part.resolve()
        if not resolved.is_relative_to(root):
            shown = part.relative_to(bundle_dir).as_posix()
            raise BundleError(
                f"{where}: model file {shown!r} resolves to {resolved}, outside the bundle folder"
            )
    return path


def load_model_file(bundle_dir: Path, where: str, device: str | None = None) -> ModelFile:
    """Load the bundle's model (safe mode for Keras files); every failure a one-line BundleError."""
    return open_model_file(find_model_file(bundle_dir, where), where, device)


def open_model_file(path: Path, where: str, device: str | None = None) -> ModelFile:
    """Load a model from any path: a folder is a SavedModel, a file a Keras file (safe mode)."""
    import tensorflow as tf

    shown = _shown([path.name])[0]
    saved_model = path.is_dir()
    try:
        with tf.device(device or "/CPU:0"):
            if saved_model:
                loaded = tf.saved_model.load(str(path))
            else:
                import keras

                # safe_mode refuses pickled lambdas (.keras and .h5 alike): no code runs on load.
                loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras and TF raise many types for a bad file; all mean "cannot load"
        raise BundleError(f"{where}: {shown} cannot be loaded safely: {_one_line(exc)}") from None
    try:
        if saved_model:
            model: ModelFile = SavedModelFile(path, loaded, where)
        else:
            model = KerasModelFile(path, loaded)
    except BundleError:
        raise
    except _Unservable as exc:
        raise BundleError(f"{where}: {shown} {exc}") from None
    except Exception as exc:  # a model Keras loads but whose inputs or outputs it cannot list
        raise BundleError(f"{where}: {shown} cannot be read: {_one_line(exc)}") from None
    return model


class _Unservable(ValueError):
    """A tensor the batched runtimes cannot feed or read."""


def _info(name: str, shape: Any, dtype: str, activation: str | None = None) -> TensorInfo:
    """A TensorInfo without the batch axis (of a Keras tuple or a TensorShape alike)."""
    if getattr(shape, "rank", 0) is None:
        raise _Unservable(f"tensor '{name}' has an unknown rank")
    dims = [None if d is None else int(d) for d in shape]
    # Batches of any size are stacked along the first axis: it must be free.
    if not dims or dims[0] is not None:
        raise _Unservable(f"tensor '{name}' has shape {tuple(dims)}: no free batch axis")
    return TensorInfo(name, tuple(dims[1:]), dtype, activation)


def _keras_inputs(model: Any) -> list[tuple[str, Any]]:
    """(name, tensor) per input: a dict-built model is fed by its keys, others by tensor name."""
    if isinstance(getattr(model, "input", None), dict):
        return list(model.input.items())
    return [(t.name, t) for t in model.inputs]


def _keras_outputs(model: Any) -> list[tuple[str, Any]]:
    """(name, tensor) per output: a dict-built model answers by its keys, others by layer name."""
    if isinstance(getattr(model, "output", None), dict):
        return list(model.output.items())
    # A Sequential model has no output_names: its outputs are named by the layers making them.
    names = getattr(model, "output_names", None) or [
        getattr(_producer(t), "name", None) or t.name for t in model.outputs
    ]
    return list(zip(names, model.outputs, strict=True))


def _activation(tensor: Any) -> str | None:
    """The activation of the layer producing ``tensor``, when Keras can tell."""
    layer = _producer(tensor)
    if layer is None:
        return None
    if type(layer).__name__ == "Softmax":
        return "softmax"
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return name if isinstance(name, str) else None


def _blank_row(tensor: TensorInfo) -> np.ndarray:
    shape = (1, *(1 if d is None else d for d in tensor.shape))
    if tensor.dtype == "string":
        return np.full(shape, b"", dtype=object)
    return np.zeros(shape, tensor.dtype)


def _producer(tensor: Any) -> Any:
    """The Keras layer whose call made ``tensor``, if it is known."""
    history = getattr(tensor, "_keras_history", None)
    return history[0] if history else None


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _shown(names: Any) -> list[str]:
    return [f"{name}/" if name == "saved_model" else name for name in names]


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _hash_file(digest: Any, path: Path) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)


@contextmanager
def _quiet_converter() -> Iterator[None]:
    """tf2onnx logs every pass and touches NumPy aliases NumPy 2 deprecates; the parity check
    against TensorFlow (not its log) decides whether an export is served."""
    converter_log = logging.getLogger("tf2onnx")
    level = converter_log.level
    converter_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        converter_log.setLevel(level)


def _patch_tf2onnx() -> None:
    """Keras' own NumPy 2 fixes for tf2onnx (model.export applies them; from_function does not)."""
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    patch_tf2onnx()
