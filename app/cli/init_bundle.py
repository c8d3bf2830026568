"""``init-bundle MODEL``: write a bundle.yaml skeleton beside (or for) a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from app.cli.errors import EXIT_BAD_BUNDLE, EXIT_BAD_INPUT, fail
from app.cli.local import quiet_tensorflow
from app.cli.skeleton import render
from app.errors import BundleError

if TYPE_CHECKING:
    from app.model.model_file import ModelFile, TensorInfo

# What a bundle calls its model, by what the user points at.
TARGETS = {".keras": "model.keras", ".h5": "model.h5", ".hdf5": "model.h5"}
SAVED_MODEL = "saved_model"
PROBE_BATCH = 8
PROBE_SEED = 0
# Where a model does not say (a SavedModel's outputs), softmax rows sum to 1 within this.
SUM_TOLERANCE = 1e-3


@click.command("init-bundle")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Bundle folder to write bundle.yaml into (default: the model's folder).",
)
def init_bundle(model: Path, out: Path | None) -> None:
    """Write a bundle.yaml skeleton for MODEL (a .keras or .h5 file, or a SavedModel folder),
    never over an existing one."""
    target_name = _target_name(model)
    out = out or model.absolute().parent
    target = out / "bundle.yaml"
    if target.exists():
        fail(f"{target} already exists; not overwriting it", EXIT_BAD_INPUT)
    try:
        loaded = _open(model)
    except BundleError as exc:
        fail(str(exc), EXIT_BAD_BUNDLE)
    outputs = _with_probed_activations(loaded)
    text = render(model.name, loaded.inputs, outputs)
    out.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as f:  # "x": a file that appeared meanwhile survives
        f.write(text)
    click.echo(f"wrote {target} ({text.count('TODO')} TODOs to settle)", err=True)
    if not (out / target_name).exists():
        slash = "/" if target_name == SAVED_MODEL else ""
        click.echo(f"next: copy {model}{slash} to {out / target_name}{slash}", err=True)
    click.echo(f"then: python -m app check {out}", err=True)


def _target_name(model: Path) -> str:
    if model.is_dir():
        if not (model / "saved_model.pb").is_file():
            fail(f"{model} is a folder without saved_model.pb: not a SavedModel", EXIT_BAD_INPUT)
        return SAVED_MODEL
    name = TARGETS.get(model.suffix.lower())
    if name is None:
        fail(
            f"{model}: expected a .keras or .h5 file or a SavedModel folder, got {model.suffix!r}",
            EXIT_BAD_INPUT,
        )
    return name


def _open(model: Path) -> ModelFile:
    """The model through the loader the service uses, safe mode included."""
    from app.model.model_file import open_model_file

    quiet_tensorflow()
    return open_model_file(model, str(model))


def _with_probed_activations(loaded: ModelFile) -> list[TensorInfo]:
    """The outputs, the unknown activations told from scores on random inputs (a SavedModel
    keeps no layers): rows summing to 1 are a softmax's, scores all in [0, 1] a sigmoid's."""
    from dataclasses import replace

    unknown = [t for t in loaded.outputs if t.activation is None and len(t.shape) == 1]
    if not unknown:
        return loaded.outputs
    try:
        scores = {name: np.asarray(value) for name, value in loaded(_random_batch(loaded)).items()}
    except Exception:  # a model that will not run on noise keeps its outputs unguessed
        return loaded.outputs
    probed = {}
    for tensor in unknown:
        rows = scores[tensor.name].astype(np.float64)
        if rows.shape[1:] != tensor.shape or not np.isfinite(rows).all():
            continue
        if rows.min() >= 0 and np.allclose(rows.sum(axis=1), 1.0, atol=SUM_TOLERANCE):
            probed[tensor.name] = "softmax"
        elif rows.min() >= 0 and rows.max() <= 1:
            probed[tensor.name] = "sigmoid"
    if probed:
        shown = ", ".join(f"{name} {act}" for name, act in probed.items())
        click.echo(f"activations told from the scores on random inputs: {shown}", err=True)
    return [replace(t, activation=probed.get(t.name, t.activation)) for t in loaded.outputs]


def _random_batch(loaded: ModelFile) -> dict[str, Any]:
    import tensorflow as tf

    rng = np.random.default_rng(PROBE_SEED)
    batch = {}
    for tensor in loaded.inputs:
        shape = (PROBE_BATCH, *(16 if d is None else d for d in tensor.shape))
        if tensor.dtype == "string":
            batch[tensor.name] = tf.constant(np.full(shape, b"a probe", dtype=object))
        elif tensor.dtype == "uint8":
            batch[tensor.name] = tf.constant(rng.integers(0, 256, shape, dtype=np.uint8))
        elif tensor.dtype.startswith(("int", "uint")):
            # Id 0 exists in any vocabulary; larger random ids could overrun an embedding.
            batch[tensor.name] = tf.zeros(shape, tensor.dtype)
        else:
            batch[tensor.name] = tf.constant(rng.standard_normal(shape), tensor.dtype)
    return batch
