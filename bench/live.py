"""What the live server says about its stages: the ``mms_*`` histograms of ``/metrics``, the
``timing_ms`` it answers with, and its CPU per request under load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import servers
from bench.bundle import PROCESS_ENV
from bench.loadgen import Target, run_level

# The /metrics histograms read back, as mean ms per observation (batch size: mean rows).
METRIC_FAMILIES = {
    "mms_request_duration_seconds": "request (arrival in the app to answer)",
    "mms_preprocess_duration_seconds": "preprocess, per input",
    "mms_queue_wait_seconds": "queue wait, per row",
    "mms_inference_duration_seconds": "inference, per batch",
    "mms_batch_size": "rows per batch",
}


def scrape_stage_metrics(port: int) -> dict[str, dict[str, float]]:
    """Mean of each ``mms_*`` stage histogram on the live server, by modality where it has one."""
    from prometheus_client.parser import text_string_to_metric_families

    status, text = servers.request(port, "GET", "/metrics")
    if status != 200:
        return {}
    sums: dict[str, dict[str, list[float]]] = {}
    for family in text_string_to_metric_families(text.decode()):
        if family.name not in METRIC_FAMILIES:
            continue
        for sample in family.samples:
            if not sample.name.endswith(("_sum", "_count")):
                continue
            if sample.labels.get("route", "/predict") != "/predict":
                continue
            key = family.name
            if "modality" in sample.labels:
                key = f"{key}:{sample.labels['modality']}"
            slot = sums.setdefault(key, {"sum": [], "count": []})
            slot["sum" if sample.name.endswith("_sum") else "count"].append(sample.value)
    means: dict[str, dict[str, float]] = {}
    for key, slot in sorted(sums.items()):
        count, total = sum(slot["count"]), sum(slot["sum"])
        if count:
            scale = 1.0 if key.startswith("mms_batch_size") else 1000.0
            means[key] = {"mean": round(scale * total / count, 3), "count": count}
    return means


def live_figures(level: dict, metrics: dict) -> dict[str, Any]:
    """What the live server says about one load level: CPU per request, timing_ms, histograms."""
    return {
        "concurrency": level["concurrency"],
        "throughput_rps": level["throughput_rps"],
        "server_cpu_ms_per_request": level.get("server_cpu_ms_per_request"),
        "timing_ms": level.get("server_timing_ms", {}),
        "metrics_means": metrics,
    }


def serve_and_measure(models_dir: Path, name: str, body: bytes, ctype: str, args) -> dict:
    """Serve bundle ``name`` with gunicorn, load it at ``args.concurrency``, read the figures."""
    env = {**PROCESS_ENV, "MMS_MODELS_DIR": str(models_dir), "MMS_DEFAULT_MODEL": name}
    server = servers.start_gunicorn(
        "stages", "wsgi:app", env, args.cache_dir / "logs" / "stages.log"
    )
    try:
        servers.wait_until(server, lambda port: servers.request(port, "GET", "/readyz")[0] == 200)
        target = Target(servers.HOST, server.port, "/predict", body, ctype, parse_timing=True)
        counters = servers.cpu_counters(server)
        level = run_level(target, args.concurrency, args.duration, args.warmup, counters)
        rps = level["throughput_rps"]
        level["server_cpu_ms_per_request"] = (
            round(1000.0 * level["cpu_cores"]["server"] / rps, 2) if rps else None
        )
        return live_figures(level, scrape_stage_metrics(server.port))
    finally:
        servers.stop(server)
