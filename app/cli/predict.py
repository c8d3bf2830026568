"""``predict``: one prediction in this process, no server, answered as POST /predict would."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import click

from app.cli.errors import EXIT_BAD_BUNDLE, EXIT_BAD_INPUT, fail
from app.cli.local import load_local, resolve_bundle
from app.errors import BundleError, PayloadTooLarge, ServiceError
from app.settings import load_settings

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.option("--image", type=FILE, help="An image file (JPEG, PNG, WebP, BMP).")
@click.option("--audio", type=FILE, help="An audio file (WAV, FLAC, OGG/Vorbis, MP3).")
@click.option("--text", help="Text, as the 'text' form field.")
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A bundle folder, or a models folder (its default model); default: the settings'.",
)
@click.option("--top-k", type=int, help="Labels per classification output (default: settings).")
def predict(
    image: Path | None,
    audio: Path | None,
    text: str | None,
    model_dir: Path | None,
    top_k: int | None,
) -> None:
    """Predict once from local files and print the JSON that POST /predict would answer."""
    settings = load_settings()
    request_id = uuid.uuid4().hex
    instance: dict[str, bytes | str] = {}
    for name, path in (("image", image), ("audio", audio)):
        if path is not None:
            instance[name] = path.read_bytes()
    if text is not None:
        instance["text"] = text
    try:
        bundle_dir = resolve_bundle(
            model_dir or settings.resolve_models_dir(Path(__file__).parents[2]), settings
        )
        local = load_local(bundle_dir, settings, warm_up=False)
    except (BundleError, ValueError) as exc:
        fail(str(exc), EXIT_BAD_BUNDLE)
    try:
        _check_sizes(instance, settings.max_part_bytes)
        (result,) = local.predictor.predict(
            [instance], settings.default_top_k if top_k is None else top_k
        )
    except ServiceError as exc:
        _print({"error": _error(exc), "request_id": request_id})
        raise SystemExit(EXIT_BAD_INPUT) from None
    finally:
        local.close()
    bundle = local.predictor.bundle
    model = {"name": bundle.name, "version": str(bundle.version)}
    _print({"request_id": request_id, "model": model, **result})


def _check_sizes(instance: dict[str, bytes | str], limits: dict[str, int]) -> None:
    """The service's per-part limits, so a file that works here also works over HTTP."""
    for name, value in instance.items():
        size = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
        if name in limits and size > limits[name]:
            raise PayloadTooLarge(
                f"{name}: {size} bytes is over the limit of {limits[name]} bytes", field=name
            )


def _error(exc: ServiceError) -> dict[str, Any]:
    error = {"code": exc.code, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    return error


def _print(body: dict[str, Any]) -> None:
    click.echo(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
