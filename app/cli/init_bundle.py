"""``init-bundle MODEL.keras``: write a bundle.yaml skeleton beside (or for) a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from app.cli.errors import EXIT_BAD_BUNDLE, EXIT_BAD_INPUT, fail
from app.cli.local import quiet_tensorflow
from app.cli.skeleton import TensorInfo, render


@click.command("init-bundle")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Bundle folder to write bundle.yaml into (default: the model's folder).",
)
def init_bundle(model_file: Path, out: Path | None) -> None:
    """Write a bundle.yaml skeleton for MODEL_FILE, never over an existing one."""
    out = out or model_file.parent
    target = out / "bundle.yaml"
    if target.exists():
        fail(f"{target} already exists; not overwriting it", EXIT_BAD_INPUT)
    model = _load(model_file)
    inputs = [TensorInfo(t.name, tuple(t.shape[1:]), str(t.dtype)) for t in model.inputs]
    outputs = [
        TensorInfo(name, tuple(t.shape[1:]), str(t.dtype), _activation(model, name))
        for name, t in zip(model.output_names, model.outputs, strict=True)
    ]
    text = render(model_file.name, inputs, outputs)
    out.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as f:  # "x": a file that appeared meanwhile survives
        f.write(text)
    click.echo(f"wrote {target} ({text.count('TODO')} TODOs to settle)", err=True)
    if not (out / "model.keras").exists():
        click.echo(f"next: copy {model_file} to {out / 'model.keras'}", err=True)
    click.echo(f"then: python -m app check {out}", err=True)


def _load(model_file: Path) -> Any:
    quiet_tensorflow()
    import keras

    try:
        return keras.saving.load_model(model_file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file; all mean "cannot load"
        fail(f"{model_file} cannot be loaded safely: {exc}", EXIT_BAD_BUNDLE)


def _activation(model: Any, output_name: str) -> str | None:
    """The activation of the layer producing an output, when Keras can tell."""
    try:
        activation = model.get_layer(output_name).activation
    except (ValueError, AttributeError):
        return None
    return getattr(activation, "__name__", None)
