"""Service settings: one typed object, read from YAML and then from MMS_* environment variables."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "MMS_"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "service.yaml"


@dataclass(frozen=True)
class BatchingSettings:
    """How requests for one model are grouped into batches."""

    max_batch_size: int = 16
    """Most rows run in one model call; batches are padded up to a power of two at most this."""
    max_delay_ms: float = 2.0
    """Longest a request waits for others to join its batch."""
    max_queue_size: int = 128
    """Requests waiting for the model; one more is answered 503 with Retry-After at once."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the service. Each field can be set in YAML or as MMS_<FIELD> in the env."""

    models_dir: str = "models"
    """Folder of bundles laid out as <name>/<version>/; relative paths start at the repo root."""
    default_model: str = "digits"
    """The model POST /predict uses."""
    models: tuple[str, ...] = ()
    """Names of the models to serve; empty serves every bundle in models_dir."""
    pinned_versions: dict[str, int] = field(default_factory=dict)
    """Version to serve per model name (env: name=version,name=version); else the highest."""
    device: str = "auto"
    """auto (first GPU if one is visible, else CPU), cpu, gpu (first GPU; stop if none), or gpu:N.
    A GPU asked for but not visible stops the start-up with a message saying so."""
    batching: BatchingSettings = field(default_factory=BatchingSettings)
    """Batching defaults for every model (env: MMS_MAX_BATCH_SIZE and friends)."""
    model_batching: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-model overrides of batching fields, keyed by model name (YAML only)."""
    warmup: bool = True
    """Run every batch size and every preprocessor once before turning ready."""
    tf_intra_op_threads: int = 0
    """TensorFlow threads inside one op; 0: half the CPU cores (preprocessing uses the rest)."""
    tf_inter_op_threads: int = 0
    """TensorFlow ops run at once; 0: 1 (a small fused model has little op parallelism)."""
    inference_runtime: str = "auto"
    """tensorflow, onnx (the model exported to ONNX, run by ONNX Runtime on the CPU), or auto
    (onnx when the device is the CPU). ONNX is served only when its outputs match Keras within
    onnx_parity_tolerance at load time; otherwise the model runs on TensorFlow, logged why."""
    onnx_cache_dir: str = ""
    """Folder of ONNX files exported from bundles, keyed by model file hash; empty: the system
    temp dir's mms-onnx/."""
    onnx_parity_tolerance: float = 1e-4
    """Largest absolute difference of any output between ONNX Runtime and Keras at load time."""
    onnx_chunk_size: int = 4
    """Rows per ONNX Runtime call (a batch runs in chunks); 0: the whole batch. Measured on the
    bench model: per-row CPU is flat to 4 rows and 35% higher at 16."""
    preprocess_concurrency: int = 0
    """Requests preprocessing at once per worker; 0: one per CPU core. Other request threads
    wait their turn, so more requests than cores can be in flight to fill batches."""
    max_body_bytes: int = 50 * 1024 * 1024
    """Largest request body; above it the answer is 413."""
    max_part_bytes: dict[str, int] = field(
        default_factory=lambda: {
            "text": 64 * 1024,
            "image": 20 * 1024 * 1024,
            "audio": 30 * 1024 * 1024,
        }
    )
    """Largest upload per modality (env: text=N,image=N,audio=N)."""
    max_image_pixels: int = 40_000_000
    """Largest width x height decoded; larger images are refused with 422 before decoding."""
    max_audio_seconds: float = 60.0
    """Longest audio clip decoded; longer clips are refused with 422."""
    max_parts: int = 64
    """Most parts in one multipart body; one more is refused with 413 before any is decoded."""
    max_form_field_bytes: int = 64 * 1024
    """Largest plain (non-file) multipart field kept in memory; above it the answer is 413."""
    min_audio_sample_rate: int = 8000
    """Lowest sample rate an audio header may declare; lower is refused with 422."""
    max_audio_sample_rate: int = 48000
    """Highest sample rate an audio header may declare; higher is refused with 422."""
    max_audio_channels: int = 8
    """Most channels an audio header may declare; more are refused with 422."""
    max_instances: int = 64
    """Most instances in one JSON request."""
    max_json_depth: int = 128
    """Deepest nesting of arrays and objects in a JSON body (v1 predict, a v2 inference header);
    deeper is refused with 400 before parsing. 128 holds a v2 tensor of NumPy's 64 axes sent as
    nested JSON (3 levels deeper) with room for nested parameters; v1 bodies need 4."""
    max_json_containers: int = 0
    """Most arrays and objects in one JSON body; more are refused with 400 before parsing.
    0: max_body_bytes / 16 (3,276,800 at 50 MiB: a [64, 224, 224, 3] tensor as nested JSON
    fits). Numbers and strings are bounded by max_body_bytes alone."""
    default_top_k: int = 5
    """Labels returned per classification output when the request does not say."""
    request_timeout_s: float = 30.0
    """Deadline of one predict request, from its start: past it the answer is 503 and its rows are
    dropped from the queue. Keep it under gunicorn's graceful_timeout."""
    max_in_flight: int = 32
    """Predict requests one worker holds at once; one more is answered 503 with Retry-After at once.
    Keep it below gunicorn's threads (MMS_THREADS) so spare threads answer probes and 503s."""
    drain_delay_s: float = 5.0
    """After SIGTERM: seconds the worker keeps accepting and serving while /readyz says draining,
    so a load balancer stops sending before the socket closes. 0 stops accepting at once."""
    retry_after_s: int = 1
    """Retry-After sent with 503 answers."""
    api_keys: tuple[str, ...] = ()
    """API keys accepted (env: comma-separated); with api_keys_file empty too, auth is off."""
    api_keys_file: str = ""
    """File of API keys, one a line (# comments); re-read when it changes, so keys rotate live."""
    open_paths: tuple[str, ...] = (
        "/healthz",
        "/readyz",
        "/v2/health/*",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/*",
        "/",
        "/playground/*",
    )
    """Paths served without a key and outside the rate limit; a trailing * makes a prefix.
    The playground page (/ and /playground/*) is open: it asks for the key and sends it itself."""
    rate_limit: str = ""
    """Requests allowed per API key (per client address with auth off), e.g. 100/second or
    1000/hour;100/second; empty: no limit."""
    rate_limit_storage_uri: str = "memory://"
    """Where rate-limit counts live: memory:// (per worker process), or memcached://host:port or
    redis://host:port to share them between workers and replicas."""
    trusted_proxies: int = 0
    """Reverse proxies in front whose X-Forwarded-For/-Proto are believed; 0: none."""
    log_level: str = "INFO"
    """Python logging level of the service's loggers."""
    log_format: str = "json"
    """json: one JSON object a line (for log collectors); text: plain lines for a terminal."""

    def cpu_cores(self) -> int:
        """CPU cores this process may run on (cgroup/affinity aware, unlike os.cpu_count)."""
        return len(os.sched_getaffinity(0))

    def resolve_models_dir(self, root: Path) -> Path:
        """models_dir as an absolute path, relative ones taken from ``root``."""
        path = Path(self.models_dir)
        return path if path.is_absolute() else root / path

    def preprocessing_limits(self) -> dict[str, dict[str, Any]]:
        """Per-modality preprocessor parameters that come from these settings."""
        return {
            "image": {"max_pixels": self.max_image_pixels},
            "audio": {
                "max_duration_s": self.max_audio_seconds,
                "min_sample_rate": self.min_audio_sample_rate,
                "max_sample_rate": self.max_audio_sample_rate,
                "max_channels": self.max_audio_channels,
            },
        }

    def batching_for(self, model: str) -> BatchingSettings:
        """The batching settings of one model: the defaults with its overrides applied."""
        return dataclasses.replace(self.batching, **self.model_batching.get(model, {}))


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from a YAML file (MMS_CONFIG or config/service.yaml) and then the environment."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CONFIG)
    data = yaml.safe_load(path.read_text()) if path.is_file() else {}
    values = dict(data or {})
    unknown = set(values) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
    values["batching"] = BatchingSettings(**values.get("batching", {}) or {})
    if "models" in values:
        values["models"] = tuple(values["models"] or ())
    values = _apply_env(values, environ)
    return Settings(**values)


def _apply_env(values: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    hints = typing.get_type_hints(Settings)
    for f in dataclasses.fields(Settings):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is None or f.name == "batching":
            continue
        parsed = _parse(f.name, raw, hints[f.name])
        if isinstance(parsed, dict):
            # Environment pairs refine the YAML/default mapping instead of replacing it.
            base = values.get(f.name, f.default_factory())
            parsed = {**base, **parsed}
        values[f.name] = parsed
    batching_hints = typing.get_type_hints(BatchingSettings)
    overrides = {
        f.name: _parse(f.name, environ[ENV_PREFIX + f.name.upper()], batching_hints[f.name])
        for f in dataclasses.fields(BatchingSettings)
        if ENV_PREFIX + f.name.upper() in environ
    }
    if overrides:
        values["batching"] = dataclasses.replace(values["batching"], **overrides)
    return values


def _parse(name: str, raw: str, hint: Any) -> Any:
    """An environment string as the field's type; pairs are written key=value,key=value."""
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes", "on")
        if origin is dict:
            _, value_type = typing.get_args(hint)
            pairs = (item.split("=", 1) for item in raw.split(",") if item.strip())
            return {k.strip(): value_type(v.strip()) for k, v in pairs}
        if origin is tuple:
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        return hint(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {hint}") from None
