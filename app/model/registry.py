"""Which bundles exist, which version of each is served, and their served models."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import BundleError, NotFound
from app.model.bundle_files import parse_version
from app.model.device import Device
from app.model.predictor import Predictor
from app.model.served import ServedModel, load_served_model
from app.settings import Settings

if TYPE_CHECKING:
    from app.observability.metrics import Metrics


def discover(models_dir: Path) -> dict[str, list[int]]:
    """Bundle names and their versions (ascending) found under ``models_dir``."""
    if not models_dir.is_dir():
        raise BundleError(f"models folder {models_dir} does not exist")
    found = {}
    root = models_dir.resolve()
    for model_dir in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        versions = sorted(
            version
            for p in model_dir.iterdir()
            if p.is_dir() and (version := parse_version(p.name)) is not None
        )
        for version in versions:
            # A symlinked name or version folder must not pull in files from elsewhere.
            bundle_dir = model_dir / str(version)
            if not bundle_dir.resolve().is_relative_to(root):
                raise BundleError(
                    f"bundle {model_dir.name}/{version} ({bundle_dir}) resolves to "
                    f"{bundle_dir.resolve()}, outside the models folder {root}"
                )
        if versions:
            found[model_dir.name] = versions
    return found


class ModelRegistry:
    """Every version of the configured models, loaded; readiness is the Lifecycle's business."""

    def __init__(
        self, settings: Settings, models_dir: Path, device: Device, metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self.device = device
        self.versions = self._select(discover(models_dir), settings)
        self.served = {name: self._served_version(name, vs) for name, vs in self.versions.items()}
        slot_count = settings.preprocess_concurrency or settings.cpu_cores()
        slots = threading.BoundedSemaphore(slot_count)
        self._helpers = ThreadPoolExecutor(slot_count, thread_name_prefix="preprocess")
        self._models: dict[tuple[str, int], ServedModel] = {}
        for name, versions in self.versions.items():
            batching = settings.batching_for(name)
            for version in versions:
                self._models[(name, version)] = load_served_model(
                    models_dir / name / str(version),
                    settings,
                    device,
                    batching=batching,
                    preprocess_slots=slots,
                    helpers=self._helpers,
                    metrics=metrics,
                )

    @staticmethod
    def _select(found: dict[str, list[int]], settings: Settings) -> dict[str, list[int]]:
        wanted = settings.models or tuple(found)
        for name in (*wanted, settings.default_model):
            if name not in found:
                raise BundleError(
                    f"model {name!r} is configured but {settings.models_dir} holds "
                    f"only {sorted(found) or 'no bundles'}"
                )
        return {name: found[name] for name in wanted}

    def _served_version(self, name: str, versions: list[int]) -> int:
        pinned = self.settings.pinned_versions.get(name)
        if pinned is None:
            return versions[-1]
        if pinned not in versions:
            raise BundleError(
                f"model {name!r} is pinned to version {pinned}, but only versions {versions} exist"
            )
        return pinned

    def warm_up(self) -> None:
        """Run every bucket size and preprocessor once; raises whatever a warm-up run raises."""
        for model in self._models.values():
            model.warm_up()

    def served_model(self, name: str | None = None, version: int | None = None) -> ServedModel:
        """A model (default: the default model) at a version (default: served): its bundle,
        runtime and predictor; NotFound for a name or version that is not here."""
        name = name or self.settings.default_model
        if name not in self.versions:
            raise NotFound(f"model {name!r} not found; models: {', '.join(self.versions)}")
        version = self.served[name] if version is None else version
        if version not in self.versions[name]:
            raise NotFound(
                f"model {name!r} has no version {version}; versions: "
                f"{', '.join(map(str, self.versions[name]))}"
            )
        return self._models[(name, version)]

    def get(self, name: str | None = None, version: int | None = None) -> Predictor:
        """The predictor for a model (default: the default model) at a version (default: served)."""
        return self.served_model(name, version).predictor

    def served_predictors(self) -> list[Predictor]:
        """The predictor of each model's served version."""
        return [self._models[(name, version)].predictor for name, version in self.served.items()]

    def close(self) -> None:
        """Stop every batcher after the rows it already holds."""
        for model in self._models.values():
            model.close()
        self._helpers.shutdown(wait=False)
