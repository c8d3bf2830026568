"""``check BUNDLE_DIR``: load, validate, warm up, and show what the bundle takes and gives."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import yaml

from app.cli.errors import EXIT_BAD_BUNDLE, fail
from app.cli.local import LocalModel, load_local
from app.errors import BundleError, ServiceError
from app.settings import load_settings

SAMPLE_TOP_K = 3


@click.command()
@click.argument("bundle_dir", type=click.Path(path_type=Path))
def check(bundle_dir: Path) -> None:
    """Load BUNDLE_DIR (<models>/<name>/<version>) as the service would, check it against its
    model, warm it up, and print its signature and a prediction on generated sample inputs."""
    settings = load_settings()
    started = time.perf_counter()
    try:
        local = load_local(bundle_dir, settings)
    except (BundleError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_BUNDLE)
    loaded_s = time.perf_counter() - started
    try:
        sample = _sample_prediction(local)
    except ServiceError as exc:
        fail(f"{bundle_dir}: the sample inputs were refused: {exc.message}", EXIT_BAD_BUNDLE)
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


def signature(local: LocalModel) -> dict[str, Any]:
    """The bundle's inputs and outputs as a user reads them."""
    bundle = local.predictor.bundle
    return {
        "bundle": {"name": bundle.name, "version": bundle.version, "path": str(bundle.path)},
        "description": bundle.description,
        "device": local.device,
        "inputs": {
            spec.name: {
                "modality": spec.modality,
                "shape": [None, *spec.shape],
                "dtype": spec.dtype.name,
                "missing": spec.missing,
                "accepted_formats": list(spec.preprocessor.accepted_formats),
                "preprocessing": spec.preprocessor.describe(),
            }
            for spec in bundle.inputs.values()
        },
        "outputs": {
            out.name: {
                "kind": out.kind,
                "shape": [None, *out.shape],
                **({"labels": len(out.labels)} if out.kind == "classification" else {}),
            }
            for out in bundle.outputs.values()
        },
    }


def _sample_prediction(local: LocalModel) -> dict[str, Any]:
    """The answer to warm-up's generated samples, one per modality the model takes."""
    from app.model.warmup import SAMPLES

    instance = {modality: SAMPLES[modality]() for modality in local.predictor.modalities}
    (result,) = local.predictor.predict([instance], SAMPLE_TOP_K)
    return {"inputs": sorted(instance), **result}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)
