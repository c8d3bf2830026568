"""Which bundles exist, which version of each is served, and their predictors."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import BundleError, NotFound
from app.model.backend import build_inference
from app.model.batcher import DynamicBatcher
from app.model.bundle import STRING_DTYPE, load_bundle
from app.model.device import Device
from app.model.outputs import OutputSpec
from app.model.predictor import Predictor
from app.model.warmup import warm_up_preprocessors
from app.preprocessing.base import ignore_size
from app.settings import Settings

if TYPE_CHECKING:
    from app.observability.metrics import Metrics, ModelMetrics

log = logging.getLogger(__name__)


def discover(models_dir: Path) -> dict[str, list[int]]:
    """Bundle names and their versions (ascending) found under ``models_dir``."""
    if not models_dir.is_dir():
        raise BundleError(f"models folder {models_dir} does not exist")
    found = {}
    root = models_dir.resolve()
    for model_dir in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        versions = sorted(
            int(p.name)
            for p in model_dir.iterdir()
            if p.is_dir() and p.name.isdigit() and int(p.name) > 0
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
        limits = settings.preprocessing_limits()
        self._predictors: dict[tuple[str, int], Predictor] = {}
        self._metrics: dict[tuple[str, int], ModelMetrics] = {}
        self.runtimes: dict[tuple[str, int], str] = {}
        # Why a model is not on the runtime asked for (string inputs, a failed export), if so.
        self.runtime_notes: dict[tuple[str, int], str | None] = {}
        slot_count = settings.preprocess_concurrency or settings.cpu_cores()
        slots = threading.BoundedSemaphore(slot_count)
        self._helpers = ThreadPoolExecutor(slot_count, thread_name_prefix="preprocess")
        for name, versions in self.versions.items():
            batching = settings.batching_for(name)
            for version in versions:
                started = time.perf_counter()
                bundle = load_bundle(
                    models_dir / name / str(version), limits=limits, device=device.tf_name
                )
                model_metrics = None
                if metrics is not None:
                    model_metrics = metrics.for_model(
                        name,
                        version,
                        device.description,
                        model_format=bundle.model.format,
                        parts=",".join(f"{p.name}:{p.modality}" for p in bundle.parts.values()),
                        outputs=",".join(f"{o.name}:{o.kind}" for o in bundle.outputs.values()),
                    )
                    self._metrics[(name, version)] = model_metrics
                inference = build_inference(
                    bundle, settings, device, max_batch_size=batching.max_batch_size
                )
                self.runtimes[(name, version)] = inference.runtime
                self.runtime_notes[(name, version)] = inference.note
                compiled = inference.model
                batcher = DynamicBatcher(
                    compiled,
                    batching,
                    name=f"{name}-{version}",
                    retry_after_s=settings.retry_after_s,
                    metrics=model_metrics,
                )
                self._predictors[(name, version)] = Predictor(
                    bundle,
                    compiled,
                    batcher,
                    request_timeout_s=settings.request_timeout_s,
                    preprocess_slots=slots,
                    helpers=self._helpers,
                    metrics=model_metrics,
                )
                log.info(
                    "loaded %s/%s from %s (runtime %s)",
                    name,
                    version,
                    bundle.path,
                    inference.runtime,
                    extra={
                        "event": "model_loaded",
                        "model": name,
                        "version": version,
                        "path": str(bundle.path),
                        "device": device.description,
                        "runtime": inference.runtime,
                        "load_s": round(time.perf_counter() - started, 3),
                    },
                )
        self._observe_input_sizes(True)

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
        # Warm-up inputs are not traffic: keep them out of the input-size histograms.
        self._observe_input_sizes(False)
        try:
            for (name, version), predictor in self._predictors.items():
                self._warm_up_one(name, version, predictor)
        finally:
            self._observe_input_sizes(True)

    def _warm_up_one(self, name: str, version: int, predictor: Predictor) -> None:
        t0 = time.perf_counter()
        warm_up_preprocessors(predictor.bundle)
        t1 = time.perf_counter()
        predictor.compiled.warm_up()
        t2 = time.perf_counter()
        log.info(
            "warmed %s/%s: preprocessors %.2f s, buckets %s %.2f s",
            name,
            version,
            t1 - t0,
            predictor.compiled.buckets,
            t2 - t1,
            extra={
                "event": "model_warmed",
                "model": name,
                "version": version,
                "preprocessors_s": round(t1 - t0, 3),
                "buckets": list(predictor.compiled.buckets),
                "buckets_s": round(t2 - t1, 3),
            },
        )

    def _observe_input_sizes(self, on: bool) -> None:
        """Point the decoders' size hooks (image pixels, audio seconds) at the metrics, or not."""
        for key, model_metrics in self._metrics.items():
            for spec in self._predictors[key].bundle.inputs.values():
                if hasattr(spec.preprocessor, "observe_size"):
                    spec.preprocessor.observe_size = (
                        partial(model_metrics.decoded_size, spec.modality) if on else ignore_size
                    )

    def get(self, name: str | None = None, version: int | None = None) -> Predictor:
        """The predictor for a model (default: the default model) at a version (default: served)."""
        name = name or self.settings.default_model
        if name not in self.versions:
            raise NotFound(f"model {name!r} not found; models: {', '.join(self.versions)}")
        version = self.served[name] if version is None else version
        if version not in self.versions[name]:
            raise NotFound(
                f"model {name!r} has no version {version}; versions: "
                f"{', '.join(map(str, self.versions[name]))}"
            )
        return self._predictors[(name, version)]

    def served_predictors(self) -> list[Predictor]:
        """The predictor of each model's served version."""
        return [self._predictors[(name, version)] for name, version in self.served.items()]

    def describe(self, name: str, *, ready: bool) -> dict[str, Any]:
        """Metadata of one model: versions, parts, inputs, outputs, device."""
        if name not in self.versions:
            raise NotFound(f"model {name!r} not found; models: {', '.join(self.versions)}")
        key = (name, self.served[name])
        bundle = self._predictors[key].bundle
        described = {
            "name": name,
            "versions": [str(v) for v in self.versions[name]],
            "served_version": str(self.served[name]),
            "ready": ready,
            "description": bundle.description,
            "device": self.device.description,
            "runtime": self.runtimes[key],
            "model_format": bundle.model.format,
            "parts": [
                {
                    "name": part.name,
                    "modality": part.modality,
                    "required": part.missing == "required",
                    "accepted_formats": list(part.accepted_formats),
                    "max_bytes": self.settings.max_part_bytes.get(part.modality),
                    "inputs": [spec.name for spec in part.inputs],
                }
                for part in bundle.parts.values()
            ],
            "inputs": [
                {
                    "name": spec.name,
                    "modality": spec.modality,
                    "part": spec.part,
                    **({"feed": spec.feed} if spec.feed else {}),
                    "required": spec.missing == "required",
                    "missing": spec.missing,
                    "shape": [None, *spec.shape],
                    "dtype": "string" if spec.dtype == STRING_DTYPE else spec.dtype.name,
                    "accepted_formats": list(spec.preprocessor.accepted_formats),
                    "max_bytes": self.settings.max_part_bytes.get(spec.modality),
                    "preprocessing": spec.preprocessor.describe(),
                }
                for spec in bundle.inputs.values()
            ],
            "outputs": [_describe_output(out) for out in bundle.outputs.values()],
        }
        if self.runtime_notes.get(key):
            described["runtime_note"] = self.runtime_notes[key]
        return described

    def summary(self, *, ready: bool) -> list[dict[str, Any]]:
        """One line per model for GET /v1/models."""
        return [
            {
                "name": name,
                "versions": [str(v) for v in versions],
                "served_version": str(self.served[name]),
                "ready": ready,
            }
            for name, versions in self.versions.items()
        ]

    def close(self) -> None:
        """Stop every batcher after the rows it already holds."""
        for predictor in self._predictors.values():
            predictor.batcher.close()
        self._helpers.shutdown(wait=False)


def _describe_output(out: OutputSpec) -> dict[str, Any]:
    described: dict[str, Any] = {"name": out.name, "kind": out.kind, "shape": [None, *out.shape]}
    if out.labels:
        described["labels"] = list(out.labels)
    if out.kind == "multilabel":
        described["threshold"] = out.threshold
    if out.names:
        described["names"] = list(out.names)
    return described
