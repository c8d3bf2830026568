"""Prometheus metrics of one app: defined here, recorded by the request path, scraped at /metrics.

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` (set by
the master before the fork, see ``app/observability/multiprocess.py``) and a scrape of any worker
adds up all of them. Elsewhere (the Flask test client, a script) one in-memory registry is used.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

PREFIX = "mms_"
# Sub-millisecond resolution at the low end: a small model's preprocess or batch takes ~1 ms.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
BYTES_BUCKETS = tuple(256 * 4**i for i in range(10))  # 256 B .. 64 MiB
PIXELS_BUCKETS = (1e3, 1e4, 1e5, 3e5, 1e6, 3e6, 1e7, 4e7, 1e8)
AUDIO_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
MODEL = ("model", "version")


class Metrics:
    """Every metric of the service, registered in a registry of its own."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        if multiprocess_dir and values.ValueClass is values.MutexValue:
            # prometheus_client picks file-backed values once, when first imported.
            raise RuntimeError(
                "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was imported; "
                "set it in the gunicorn master before the workers fork"
            )
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            PREFIX + "requests",
            "HTTP requests answered, by route (URL rule), method, model and status.",
            ("route", "method", "model", "status"),
            registry=r,
        )
        self.request_duration = Histogram(
            PREFIX + "request_duration_seconds",
            "Time from the request's arrival in the app to its answer.",
            ("route", "method", "model"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.preprocess_duration = Histogram(
            PREFIX + "preprocess_duration_seconds",
            "Decoding and preprocessing of one input of one modality.",
            (*MODEL, "modality"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            PREFIX + "queue_wait_seconds",
            "Time a row waited in the model's batch queue before its batch ran.",
            MODEL,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_duration = Histogram(
            PREFIX + "inference_duration_seconds",
            "One model call on one batch.",
            MODEL,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            PREFIX + "batch_size",
            "Rows in one model call (before padding to a bucket size).",
            MODEL,
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            PREFIX + "queue_depth",
            "Rows waiting in the model's batch queue, summed over live workers.",
            MODEL,
            multiprocess_mode="livesum",
            registry=r,
        )
        self.in_flight = Gauge(
            PREFIX + "in_flight_requests",
            "Predict and v2 infer requests being processed, summed over live workers.",
            MODEL,
            multiprocess_mode="livesum",
            registry=r,
        )
        self.input_bytes = Histogram(
            PREFIX + "input_bytes",
            "Size of one uploaded input, by modality.",
            (*MODEL, "modality"),
            buckets=BYTES_BUCKETS,
            registry=r,
        )
        self.image_pixels = Histogram(
            PREFIX + "image_pixels",
            "Width x height of each decoded image.",
            MODEL,
            buckets=PIXELS_BUCKETS,
            registry=r,
        )
        self.audio_duration = Histogram(
            PREFIX + "audio_duration_seconds",
            "Length of each decoded audio clip.",
            MODEL,
            buckets=AUDIO_BUCKETS,
            registry=r,
        )
        # prometheus_client's Info cannot aggregate across processes; a gauge at 1 is the
        # usual stand-in (like kube-state-metrics' *_info series).
        self.model_info = Gauge(
            PREFIX + "model_info",
            "A served model version: its device, model format, request parts (part:modality) "
            "and outputs (name:kind); always 1.",
            (*MODEL, "device", "format", "parts", "outputs"),
            multiprocess_mode="livemax",
            registry=r,
        )

    def for_model(
        self,
        name: str,
        version: int,
        device: str,
        *,
        model_format: str = "",
        parts: str = "",
        outputs: str = "",
    ) -> ModelMetrics:
        """The metrics of one served model version, its info series set."""
        self.model_info.labels(name, str(version), device, model_format, parts, outputs).set(1)
        return ModelMetrics(self, name, str(version))

    def observe_request(
        self, route: str, method: str, model: str, status: int, seconds: float
    ) -> None:
        """Count one answered HTTP request and its duration."""
        self.requests.labels(route, method, model, str(status)).inc()
        self.request_duration.labels(route, method, model).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric (all workers' under gunicorn)."""
        if self.multiprocess_dir:
            # A fresh registry per scrape, as prometheus_client's multiprocess docs ask.
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ModelMetrics:
    """The series of one model version, bound once so the request path only observes."""

    def __init__(self, metrics: Metrics, name: str, version: str) -> None:
        self._preprocess = {}
        self._bytes = {}
        for modality in ("text", "image", "audio"):
            self._preprocess[modality] = metrics.preprocess_duration.labels(name, version, modality)
            self._bytes[modality] = metrics.input_bytes.labels(name, version, modality)
        self._decoded = {
            "image": metrics.image_pixels.labels(name, version),
            "audio": metrics.audio_duration.labels(name, version),
        }
        self._queue_wait = metrics.queue_wait.labels(name, version)
        self._inference = metrics.inference_duration.labels(name, version)
        self._batch_size = metrics.batch_size.labels(name, version)
        self._queue_depth = metrics.queue_depth.labels(name, version)
        self._in_flight = metrics.in_flight.labels(name, version)

    def preprocessed(self, modality: str, seconds: float, size_bytes: int) -> None:
        """One input of ``modality`` decoded and preprocessed."""
        self._preprocess[modality].observe(seconds)
        self._bytes[modality].observe(size_bytes)

    def decoded_size(self, modality: str, size: float) -> None:
        """The natural size of one decoded input: pixels of an image, seconds of audio."""
        observed = self._decoded.get(modality)
        if observed is not None:
            observed.observe(size)

    def batch_ran(self, rows: int, seconds: float, queue_waits: list[float]) -> None:
        """One model call on ``rows`` rows that waited ``queue_waits`` seconds each."""
        self._batch_size.observe(rows)
        self._inference.observe(seconds)
        for wait in queue_waits:
            self._queue_wait.observe(wait)

    def queue_depth(self, rows: int) -> None:
        """Rows now waiting in the batch queue."""
        self._queue_depth.set(rows)

    def in_flight(self) -> AbstractContextManager[None]:
        """Counts a predict or v2 infer request in the in-flight gauge while the block runs."""
        return self._in_flight.track_inprogress()
