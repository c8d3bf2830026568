"""One bundle loaded in this process as the service loads it, behind the same Predictor."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.progress import advance, steps
from app.errors import BundleError
from app.model.bundle_files import version_of
from app.settings import BatchingSettings, Settings

if TYPE_CHECKING:  # the model layer imports TensorFlow, which --help must not wait for
    from app.model.served import ServedModel

# TensorFlow's start, the served-model builder's LOAD_STAGES, then the warm-up.
LOAD_STEPS = ("starting TensorFlow", "loading the bundle", "compiling", "warming up")
# One request at a time: a batch of one is the only bucket worth compiling.
LOCAL_BATCHING = BatchingSettings(max_batch_size=1, max_delay_ms=0.0, max_queue_size=4)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter off a terminal the user reads (unless they chose)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def resolve_bundle(path: Path, settings: Settings) -> Path:
    """A bundle folder from ``path``: a bundle itself, or a models folder (default model, served
    version, as the service would pick)."""
    from app.model.registry import discover

    if (path / "bundle.yaml").is_file() or (path / "model.keras").is_file():
        return path
    found = discover(path)
    name = settings.default_model if settings.default_model in found else None
    if name is None and len(found) == 1:
        name = next(iter(found))
    if name is None:
        raise BundleError(
            f"{path} holds models {sorted(found) or 'none'}; name a bundle folder "
            f"(<models>/<name>/<version>) or set MMS_DEFAULT_MODEL"
        )
    version = settings.pinned_versions.get(name, found[name][-1])
    return path / name / str(version)


def load_local(bundle_dir: Path, settings: Settings, *, warm_up: bool = True) -> ServedModel:
    """Load, check and (optionally) warm up one bundle; raises BundleError naming what is wrong.

    The model is built as the service builds it (limits, runtime), one request at a time;
    ``close`` it when done.
    """
    bundle_dir = bundle_dir.resolve()
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir} is not a folder")
    version_of(bundle_dir, str(bundle_dir))  # before TensorFlow loads: a wrong folder fails at once
    quiet_tensorflow()
    total = len(LOAD_STEPS) if warm_up else len(LOAD_STEPS) - 1
    with steps(LOAD_STEPS[0], total) as progress:
        from app.model.device import configure_tensorflow
        from app.model.served import load_served_model

        device = configure_tensorflow(settings)
        served = load_served_model(
            bundle_dir,
            settings,
            device,
            batching=LOCAL_BATCHING,
            preprocess_slots=threading.BoundedSemaphore(1),
            on_stage=lambda stage: advance(progress, stage),
        )
        if warm_up:
            advance(progress, LOAD_STEPS[-1])
            served.warm_up()
        advance(progress)
    return served
