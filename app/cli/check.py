"""``check BUNDLE_DIR``: load, validate, warm up, and show what the bundle takes and gives."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
import yaml

from app.cli.errors import EXIT_BAD_BUNDLE, fail
from app.cli.local import load_local
from app.errors import BundleError, ServiceError
from app.settings import load_settings

if TYPE_CHECKING:
    from app.model.served import ServedModel

SAMPLE_TOP_K = 3
MAX_MESSAGE = 800  # characters of a failure kept on its one line (TensorFlow's run to pages)


@click.command()
@click.argument("bundle_dir", type=click.Path(path_type=Path))
def check(bundle_dir: Path) -> None:
    """Load BUNDLE_DIR (<models>/<name>/<version>) as the service would, check it against its
    model, warm it up, and print its signature and the answer to a generated sample request
    (an image, a tone, a text: one per part)."""
    settings = load_settings()
    started = time.perf_counter()
    try:
        local = load_local(bundle_dir, settings)
    except (BundleError, ValueError) as exc:
        fail(one_line(exc), EXIT_BAD_BUNDLE)
    except Exception as exc:  # anything the model or a preprocessor raises: one line, no traceback
        fail(f"{bundle_dir}: cannot be loaded: {_described(exc)}", EXIT_BAD_BUNDLE)
    loaded_s = time.perf_counter() - started
    try:
        sample = _sample_prediction(local)
    except ServiceError as exc:
        fail(f"{bundle_dir}: the sample request was refused: {one_line(exc)}", EXIT_BAD_BUNDLE)
    except Exception as exc:
        fail(f"{bundle_dir}: the sample request failed: {_described(exc)}", EXIT_BAD_BUNDLE)
    finally:
        local.close()
    report = {
        **signature(local),
        "sample_prediction": sample,
        "load_and_warm_up_s": round(loaded_s, 2),
    }
    # Through JSON: preprocessors describe themselves with tuples and numpy scalars.
    report = json.loads(json.dumps(report, default=_plain))
    click.echo(
        yaml.safe_dump(
            report, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
        ),
        nl=False,
    )
    click.echo(f"OK: {local.predictor.bundle.path} is a valid bundle", err=True)


def signature(local: ServedModel) -> dict[str, Any]:
    """The bundle's parts, inputs and outputs as a user reads them."""
    bundle = local.predictor.bundle
    return {
        "bundle": {"name": bundle.name, "version": bundle.version, "path": str(bundle.path)},
        "description": bundle.description,
        "model": {"file": bundle.model.path.name, "format": bundle.model.format},
        "device": local.device.description,
        "runtime": local.runtime,
        **({"runtime_note": local.runtime_note} if local.runtime_note else {}),
        "parts": {
            name: {
                "modality": part.modality,
                "missing": part.missing,
                "inputs": [spec.name for spec in part.inputs],
                "accepted_formats": list(part.accepted_formats),
            }
            for name, part in bundle.parts.items()
        },
        "inputs": {
            spec.name: {
                "modality": spec.modality,
                "part": spec.part,
                "shape": [None, *spec.shape],
                "dtype": _dtype(spec.dtype),
                **({"feed": spec.feed} if spec.feed else {}),
                "missing": spec.missing,
                "preprocessing": spec.preprocessor.describe(),
            }
            for spec in bundle.inputs.values()
        },
        "outputs": {out.name: _output(out) for out in bundle.outputs.values()},
    }


def _output(out: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"kind": out.kind, "shape": [None, *out.shape]}
    if out.kind in ("classification", "multilabel"):
        shown["labels"] = len(out.labels)
    if out.kind == "multilabel":
        shown["threshold"] = out.threshold
    if out.kind == "regression" and out.names:
        shown["names"] = list(out.names)
    return shown


def _sample_prediction(local: ServedModel) -> dict[str, Any]:
    """The answer to warm-up's generated samples, one per part of the bundle."""
    from app.model.warmup import SAMPLES

    bundle = local.predictor.bundle
    instance = {name: SAMPLES[part.modality]() for name, part in bundle.parts.items()}
    (result,) = local.predictor.predict([instance], SAMPLE_TOP_K)
    outputs = {
        name: {"length": len(value)} if bundle.outputs[name].kind == "embedding" else value
        for name, value in result["outputs"].items()
    }
    return {
        "parts": sorted(instance),
        "outputs": outputs,
        **{key: value for key, value in result.items() if key != "outputs"},
    }


def one_line(exc: Exception) -> str:
    """An exception's message on one line, cut where it runs on."""
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _described(exc: Exception) -> str:
    return f"{type(exc).__name__}: {one_line(exc) or 'no message'}"


def _dtype(dtype: np.dtype) -> str:
    return "string" if dtype == np.dtype(object) else dtype.name


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)
