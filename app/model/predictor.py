"""One served model version: preprocess each instance, batch-infer, and shape the answer."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from app.errors import BadRequest, DeadlineExceeded, MissingModality, UnknownPart
from app.model.batcher import DynamicBatcher, Pending
from app.model.bundle import Bundle
from app.model.inference import CompiledModel

if TYPE_CHECKING:
    from app.observability.metrics import ModelMetrics

Instance = dict[str, bytes | str]


class Predictor:
    """The request path for one bundle: preprocess, validate, infer, postprocess (each timed)."""

    def __init__(
        self,
        bundle: Bundle,
        compiled: CompiledModel,
        batcher: DynamicBatcher,
        *,
        request_timeout_s: float,
        preprocess_slots: threading.Semaphore,
        metrics: ModelMetrics | None = None,
    ) -> None:
        self.bundle = bundle
        self.compiled = compiled
        self.batcher = batcher
        self._timeout = request_timeout_s
        # Shared by every model of the worker: it bounds CPU-heavy decoding to the cores.
        self._preprocess_slots = preprocess_slots
        self.modalities = tuple(bundle.by_modality)
        self._metrics = metrics

    def check_parts(self, names: set[str]) -> None:
        """Refuse part names this model does not take, listing the ones it does."""
        unknown = sorted(names - set(self.modalities))
        if unknown:
            raise UnknownPart(
                f"unknown part {', '.join(unknown)}; this model accepts: "
                f"{', '.join(self.modalities)}, top_k",
                field=unknown[0],
            )

    def predict(self, instances: list[Instance], top_k: int) -> list[dict[str, Any]]:
        """One result per instance, in order; raises ServiceError subclasses for bad input."""
        if self._metrics is None:
            return self._predict(instances, top_k)
        with self._metrics.in_flight():
            return self._predict(instances, top_k)

    def _predict(self, instances: list[Instance], top_k: int) -> list[dict[str, Any]]:
        if top_k < 1:
            raise BadRequest("top_k must be a positive integer", field="top_k")
        started = time.perf_counter()
        deadline = started + self._timeout
        with self.batcher.incoming(len(instances)) as submit:
            if not self._preprocess_slots.acquire(timeout=self._timeout):
                raise self._late()
            try:
                slot_wait_ms = (time.perf_counter() - started) * 1000.0
                prepared = [self._preprocess(instance) for instance in instances]
            finally:
                self._preprocess_slots.release()
            preprocess_ms = (time.perf_counter() - started) * 1000.0 - slot_wait_ms
            if time.perf_counter() > deadline:
                raise self._late()
            pending = [submit(features) for features, _ in prepared]
        try:
            outputs = [row.result(deadline - time.perf_counter()) for row in pending]
        except BaseException:
            # Nobody will read these rows any more: the batcher skips them instead of running them.
            for row in pending:
                row.cancel()
            raise
        results = []
        for (_, modalities), row, output in zip(prepared, pending, outputs, strict=True):
            results.append(
                {
                    "outputs": self._postprocess(output, top_k),
                    "modalities": modalities,
                    "timing_ms": self._timing(
                        row, preprocess_ms / len(instances), slot_wait_ms, started
                    ),
                }
            )
        return results

    def infer(
        self, instances: list[Instance], features: list[dict[str, np.ndarray]]
    ) -> list[dict[str, np.ndarray]]:
        """Raw output rows per sample, from uploads to preprocess and/or ready feature rows.

        Sample ``i`` takes ``features[i]`` (model input name -> one row, already checked against
        the input's shape and dtype) and preprocesses ``instances[i]`` (modality -> upload) for
        the inputs left; what neither gives is filled as the bundle says. Same batcher, slots and
        deadline as ``predict``.
        """
        deadline = time.perf_counter() + self._timeout
        pending: list[Pending] = []
        try:
            with self.batcher.incoming(len(instances)) as submit:
                if not self._preprocess_slots.acquire(timeout=self._timeout):
                    raise self._late()
                try:
                    prepared = [
                        self._preprocess(raw, given)[0]
                        for raw, given in zip(instances, features, strict=True)
                    ]
                finally:
                    self._preprocess_slots.release()
                if time.perf_counter() > deadline:
                    raise self._late()
                for row in prepared:
                    pending.append(submit(row))
            return [row.result(deadline - time.perf_counter()) for row in pending]
        except BaseException:
            # Rows already queued (the queue may fill half-way) are skipped, not run for nobody.
            for row in pending:
                row.cancel()
            raise

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"the request did not finish within its deadline of {self._timeout:g} s; retry shortly"
        )

    def _preprocess(
        self, instance: Instance, given: dict[str, np.ndarray] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        self.check_parts(set(instance))
        if not instance and not given:
            raise MissingModality(f"no input: send at least one of {', '.join(self.modalities)}")
        features, modalities = {}, {}
        for spec in self.bundle.inputs.values():
            data = instance.get(spec.modality)
            if given and spec.name in given:
                features[spec.name] = given[spec.name]
                modalities[spec.modality] = "provided"
            elif data is None:
                if spec.missing == "required":
                    raise MissingModality(
                        f"{spec.modality} is required by this model", field=spec.modality
                    )
                features[spec.name] = np.zeros(spec.shape, spec.dtype)
                modalities[spec.modality] = "missing"
            else:
                started = time.perf_counter()
                features[spec.name] = spec.preprocessor(data)
                if self._metrics is not None:
                    size = len(data.encode() if isinstance(data, str) else data)
                    self._metrics.preprocessed(
                        spec.modality, time.perf_counter() - started, size
                    )
                modalities[spec.modality] = "provided"
        return features, modalities

    def _postprocess(self, outputs: dict[str, np.ndarray], top_k: int) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for name, spec in self.bundle.outputs.items():
            values = outputs[name].astype(np.float64)
            if spec.kind == "embedding":
                answer[name] = [round(float(v), 6) for v in values]
                continue
            best = np.argsort(-values, kind="stable")[:top_k]
            answer[name] = [
                {"label": spec.labels[i], "score": round(float(values[i]), 6)} for i in best
            ]
        return answer

    @staticmethod
    def _timing(
        row: Pending, preprocess_ms: float, wait_ms: float, started: float
    ) -> dict[str, float]:
        # "queue" is all waiting: for a preprocessing slot, then for a batch to run.
        return {
            "preprocess": round(preprocess_ms, 3),
            "queue": round(wait_ms + row.queue_ms, 3),
            "inference": round(row.inference_ms, 3),
            "total": round((time.perf_counter() - started) * 1000.0, 3),
        }
