"""One model's request path under both protocols: preprocess, batch-infer, answer or raw rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.errors import BadRequest, DeadlineExceeded, MissingModality, UnknownPart
from app.model.batcher import DynamicBatcher, Pending
from app.model.bundle import Bundle, PartSpec
from app.model.outputs import answer

if TYPE_CHECKING:
    from app.model.onnx_model import OnnxModel
    from app.model.tf_model import CompiledModel
    from app.observability.metrics import ModelMetrics

Instance = dict[str, bytes | str]
Outcome = tuple[dict[str, np.ndarray] | None, Exception | None]


@dataclass(frozen=True)
class _Ran:
    """One request's samples through the model: their rows, outputs, parts and timing."""

    rows: list[Pending]
    outputs: list[dict[str, np.ndarray]]
    modalities: list[dict[str, str]]
    """Per sample, each part's "provided" or "missing"."""
    started: float
    slot_wait_ms: float
    preprocess_ms: float


class Predictor:
    """The request path for one bundle: preprocess, validate, infer, postprocess (each timed)."""

    def __init__(
        self,
        bundle: Bundle,
        compiled: CompiledModel | OnnxModel,
        batcher: DynamicBatcher,
        *,
        request_timeout_s: float,
        preprocess_slots: threading.Semaphore,
        helpers: Executor | None = None,
        metrics: ModelMetrics | None = None,
    ) -> None:
        self.bundle = bundle
        self.compiled = compiled
        self.batcher = batcher
        self._timeout = request_timeout_s
        # Shared by every model of the worker: it bounds CPU-heavy decoding to the cores.
        self._preprocess_slots = preprocess_slots
        # Threads that decode a request's other uploads beside its own thread, each holding a
        # spare slot: at low load the image and the audio decode side by side (lower latency);
        # when every slot is busy the request decodes them in turn, as much CPU either way.
        self._helpers = helpers
        self.parts = tuple(bundle.parts)
        self.part_modalities = {name: part.modality for name, part in bundle.parts.items()}
        self._metrics = metrics

    def check_parts(self, names: set[str]) -> None:
        """Refuse part names this model does not take, listing the ones it does."""
        unknown = sorted(names - set(self.parts))
        if unknown:
            raise UnknownPart(
                f"unknown part {', '.join(unknown)}; this model accepts: "
                f"{', '.join(sorted(self.parts))}, top_k",
                field=unknown[0],
            )

    def predict(self, instances: list[Instance], top_k: int) -> list[dict[str, Any]]:
        """One result per instance, in order; raises ServiceError subclasses for bad input."""
        if top_k < 1:
            raise BadRequest("top_k must be a positive integer", field="top_k")
        ran = self._run(instances, [None] * len(instances))
        preprocess_ms = ran.preprocess_ms / len(instances)
        return [
            {
                "outputs": self.postprocess(output, top_k),
                "modalities": modalities,
                "timing_ms": self._timing(row, preprocess_ms, ran.slot_wait_ms, ran.started),
            }
            for modalities, row, output in zip(ran.modalities, ran.rows, ran.outputs, strict=True)
        ]

    def infer(
        self, instances: list[Instance], features: list[dict[str, np.ndarray]]
    ) -> list[dict[str, np.ndarray]]:
        """Raw output rows per sample, from uploads to preprocess and/or ready feature rows.

        Sample ``i`` takes ``features[i]`` (model input name -> one row, already checked against
        the input's shape and dtype) and preprocesses ``instances[i]`` (part name -> upload) for
        the inputs left; what neither gives is filled as the bundle says. Same batcher, slots and
        deadline as ``predict``.
        """
        return self._run(instances, features).outputs

    def _run(self, instances: list[Instance], features: list[dict[str, np.ndarray] | None]) -> _Ran:
        """The request path under every protocol: a slot, preprocessing, the deadline, the batch."""
        # Counted as in flight under either protocol, from admission to the last row's answer.
        with self._metrics.in_flight() if self._metrics is not None else nullcontext():
            started = time.perf_counter()
            deadline = started + self._timeout
            pending: list[Pending] = []
            try:
                with self.batcher.incoming(len(instances)) as submit:
                    if not self._preprocess_slots.acquire(timeout=self._timeout):
                        raise self._late()
                    try:
                        slot_wait_ms = (time.perf_counter() - started) * 1000.0
                        prepared = [
                            self._preprocess(raw, given)
                            for raw, given in zip(instances, features, strict=True)
                        ]
                    finally:
                        self._preprocess_slots.release()
                    preprocess_ms = (time.perf_counter() - started) * 1000.0 - slot_wait_ms
                    if time.perf_counter() > deadline:
                        raise self._late()
                    for row, _ in prepared:
                        pending.append(submit(row))
                outputs = [row.result(deadline - time.perf_counter()) for row in pending]
            except BaseException:
                # Nobody will read these rows any more (the queue may also fill half-way): the
                # batcher skips them instead of running them.
                for row in pending:
                    row.cancel()
                raise
            return _Ran(
                rows=pending,
                outputs=outputs,
                modalities=[modalities for _, modalities in prepared],
                started=started,
                slot_wait_ms=slot_wait_ms,
                preprocess_ms=preprocess_ms,
            )

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"the request did not finish within its deadline of {self._timeout:g} s; retry shortly"
        )

    def _preprocess(
        self, instance: Instance, given: dict[str, np.ndarray] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        self.check_parts(set(instance))
        if not instance and not given:
            raise MissingModality(f"no input: send at least one of {', '.join(self.parts)}")
        given = given or {}
        features, parts = {}, {}
        uploads = []
        for part in self.bundle.parts.values():
            data = instance.get(part.name)
            if all(spec.name in given for spec in part.inputs):
                parts[part.name] = "provided"
            elif data is not None:
                uploads.append((part, data))
                parts[part.name] = "provided"
            elif part.missing == "required" and not any(s.name in given for s in part.inputs):
                raise MissingModality(f"{part.name} is required by this model", field=part.name)
            else:
                features.update({spec.name: spec.empty() for spec in part.inputs})
                parts[part.name] = "missing"
        outcomes = self._run_preprocessors(uploads)
        # The first bad part in input order is raised, however they ran (in turn, the outcomes
        # stop there).
        for value, error in outcomes:
            if error is not None:
                raise error
            features.update(value)
        features.update(given)  # tensors sent ready win over what a part would make
        return features, parts

    def _run_preprocessors(self, uploads: list[tuple[PartSpec, bytes | str]]) -> list[Outcome]:
        """Each upload's features or exception; all but the first run beside, if a slot is free."""
        if len(uploads) < 2 or self._helpers is None:
            return self._run_in_turn(uploads)
        if not self._preprocess_slots.acquire(blocking=False):
            return self._run_in_turn(uploads)
        try:
            beside = self._helpers.submit(self._run_in_turn, uploads[1:])
            first = self._run_preprocessor(*uploads[0])
            rest = beside.result()  # the borrowed slot is held until the helper is done
        finally:
            self._preprocess_slots.release()
        return [first] if first[1] is not None else [first, *rest]

    def _run_in_turn(self, uploads: list[tuple[PartSpec, bytes | str]]) -> list[Outcome]:
        """Outcomes in order, up to the first bad part (the rest would be decoded for nothing)."""
        outcomes = []
        for part, data in uploads:
            outcomes.append(self._run_preprocessor(part, data))
            if outcomes[-1][1] is not None:
                break
        return outcomes

    def _run_preprocessor(self, part: PartSpec, data: bytes | str) -> Outcome:
        started = time.perf_counter()
        try:
            value = part(data)
        except Exception as exc:  # raised by _preprocess, in input order
            return None, exc
        if self._metrics is not None:
            size = len(data.encode() if isinstance(data, str) else data)
            self._metrics.preprocessed(part.modality, time.perf_counter() - started, size)
        return value, None

    def postprocess(self, outputs: dict[str, np.ndarray], top_k: int) -> dict[str, Any]:
        """One sample's output rows as the answer per output (labels and scores, values...)."""
        return {
            name: answer(spec, outputs[name].astype(np.float64), top_k)
            for name, spec in self.bundle.outputs.items()
        }

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
