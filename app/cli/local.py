"""One bundle loaded in this process, behind the same Predictor the HTTP routes use."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from app.cli.progress import advance, steps
from app.errors import BundleError
from app.model.predictor import Predictor
from app.settings import BatchingSettings, Settings

LOAD_STEPS = ("starting TensorFlow", "loading the bundle", "compiling", "warming up")


@dataclass
class LocalModel:
    """A loaded bundle and its predictor; ``close`` stops its batching thread."""

    predictor: Predictor
    device: str

    def close(self) -> None:
        self.predictor.batcher.close()


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


def load_local(bundle_dir: Path, settings: Settings, *, warm_up: bool = True) -> LocalModel:
    """Load, check and (optionally) warm up one bundle; raises BundleError naming what is wrong."""
    bundle_dir = bundle_dir.resolve()
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir} is not a folder")
    if not (bundle_dir.name.isdigit() and int(bundle_dir.name) > 0):
        raise BundleError(
            f"{bundle_dir}: a bundle folder is <models>/<name>/<version>, "
            "the version a positive integer"
        )
    quiet_tensorflow()
    with steps(LOAD_STEPS[0], len(LOAD_STEPS) if warm_up else 3) as progress:
        from app.model.batcher import DynamicBatcher
        from app.model.bundle import load_bundle
        from app.model.device import configure_tensorflow
        from app.model.tf_model import CompiledModel
        from app.model.warmup import warm_up_preprocessors

        device = configure_tensorflow(settings)
        advance(progress, LOAD_STEPS[1])
        limits = {
            "image": {"max_pixels": settings.max_image_pixels},
            "audio": {"max_duration_s": settings.max_audio_seconds},
        }
        bundle = load_bundle(bundle_dir, limits=limits, device=device.tf_name)
        advance(progress, LOAD_STEPS[2])
        # One request at a time: a batch of one is the only bucket worth compiling.
        batching = BatchingSettings(max_batch_size=1, max_delay_ms=0.0, max_queue_size=4)
        compiled = CompiledModel(bundle, device=device.tf_name, max_batch_size=1)
        if warm_up:
            advance(progress, LOAD_STEPS[3])
            warm_up_preprocessors(bundle)
            compiled.warm_up()
        advance(progress)
    batcher = DynamicBatcher(compiled, batching, name=f"cli-{bundle.name}-{bundle.version}")
    predictor = Predictor(
        bundle,
        compiled,
        batcher,
        request_timeout_s=settings.request_timeout_s,
        preprocess_slots=threading.BoundedSemaphore(1),
    )
    return LocalModel(predictor=predictor, device=device.description)
