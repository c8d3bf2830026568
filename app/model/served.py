"""One served model version built from its bundle folder, for the server and the CLI alike."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from app.model.backend import build_inference
from app.model.batcher import DynamicBatcher
from app.model.bundle import Bundle, load_bundle
from app.model.device import Device
from app.model.predictor import Predictor
from app.model.warmup import warm_up_preprocessors
from app.preprocessing.base import ignore_size
from app.settings import BatchingSettings, Settings

if TYPE_CHECKING:
    from app.observability.metrics import Metrics, ModelMetrics

log = logging.getLogger(__name__)

# The builder's stages in order, each announced as it starts (the CLI draws them as progress).
LOAD_STAGES = ("loading the bundle", "compiling")


@dataclass(frozen=True)
class ServedModel:
    """A bundle behind its runtime, batcher and predictor, and what to tell a user about it."""

    predictor: Predictor
    runtime: str
    """tensorflow or onnxruntime."""
    runtime_note: str | None
    """Why the model is not on the runtime asked for (string inputs, a failed export), if so."""
    device: Device
    metrics: ModelMetrics | None = None

    @property
    def bundle(self) -> Bundle:
        """The bundle this model serves."""
        return self.predictor.bundle

    def warm_up(self) -> None:
        """Run each preprocessor and every bucket size once; raises whatever a run raises."""
        bundle, compiled = self.bundle, self.predictor.compiled
        # Warm-up inputs are not traffic: keep them out of the input-size histograms.
        self.observe_input_sizes(False)
        try:
            t0 = time.perf_counter()
            warm_up_preprocessors(bundle)
            t1 = time.perf_counter()
            compiled.warm_up()
            t2 = time.perf_counter()
        finally:
            self.observe_input_sizes(True)
        log.info(
            "warmed %s/%s: preprocessors %.2f s, buckets %s %.2f s",
            bundle.name,
            bundle.version,
            t1 - t0,
            compiled.buckets,
            t2 - t1,
            extra={
                "event": "model_warmed",
                "model": bundle.name,
                "version": bundle.version,
                "preprocessors_s": round(t1 - t0, 3),
                "buckets": list(compiled.buckets),
                "buckets_s": round(t2 - t1, 3),
            },
        )

    def observe_input_sizes(self, on: bool) -> None:
        """Point the decoders' size hooks (image pixels, audio seconds) at the metrics, or not."""
        if self.metrics is None:
            return
        for spec in self.bundle.inputs.values():
            if hasattr(spec.preprocessor, "observe_size"):
                spec.preprocessor.observe_size = (
                    partial(self.metrics.decoded_size, spec.modality) if on else ignore_size
                )

    def close(self) -> None:
        """Stop the batching thread after the rows it already holds."""
        self.predictor.batcher.close()


def load_served_model(
    bundle_dir: Path,
    settings: Settings,
    device: Device,
    *,
    batching: BatchingSettings,
    preprocess_slots: threading.Semaphore,
    helpers: Executor | None = None,
    metrics: Metrics | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ServedModel:
    """Load and check a bundle, put it on its runtime behind a batcher and a predictor.

    Limits and the runtime come from ``settings``; ``batching``, the preprocessing slots and the
    helper threads are the caller's (the registry shares them between models). ``on_stage`` hears
    each of ``LOAD_STAGES`` as it starts. Raises BundleError naming what is wrong.
    """
    started = time.perf_counter()
    announce = on_stage or _ignore
    announce(LOAD_STAGES[0])
    bundle = load_bundle(bundle_dir, limits=settings.preprocessing_limits(), device=device.tf_name)
    model_metrics = None
    if metrics is not None:
        model_metrics = metrics.for_model(
            bundle.name,
            bundle.version,
            device.description,
            model_format=bundle.model.format,
            parts=",".join(f"{p.name}:{p.modality}" for p in bundle.parts.values()),
            outputs=",".join(f"{o.name}:{o.kind}" for o in bundle.outputs.values()),
        )
    announce(LOAD_STAGES[1])
    inference = build_inference(bundle, settings, device, max_batch_size=batching.max_batch_size)
    batcher = DynamicBatcher(
        inference.model,
        batching,
        name=f"{bundle.name}-{bundle.version}",
        retry_after_s=settings.retry_after_s,
        metrics=model_metrics,
    )
    predictor = Predictor(
        bundle,
        inference.model,
        batcher,
        request_timeout_s=settings.request_timeout_s,
        preprocess_slots=preprocess_slots,
        helpers=helpers,
        metrics=model_metrics,
    )
    served = ServedModel(predictor, inference.runtime, inference.note, device, model_metrics)
    served.observe_input_sizes(True)
    log.info(
        "loaded %s/%s from %s (runtime %s)",
        bundle.name,
        bundle.version,
        bundle.path,
        inference.runtime,
        extra={
            "event": "model_loaded",
            "model": bundle.name,
            "version": bundle.version,
            "path": str(bundle.path),
            "device": device.description,
            "runtime": inference.runtime,
            "load_s": round(time.perf_counter() - started, 3),
        },
    )
    return served


def _ignore(stage: str) -> None:
    """No one is listening for the stages."""
