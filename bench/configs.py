"""The service's configurations a user could pick, measured side by side on this machine.

``python -m bench.configs [--duration S] [--concurrency 1,2,4,8,16]`` serves the bench bundle once
per configuration (workers, request threads, preprocess_concurrency), each started plainly with a
clean environment plus only its MMS_* settings, sweeps the concurrency levels interleaved (so a
busy minute hits every configuration alike) and writes ``bench/results/configs.{json,md}``: peak
throughput, server CPU per request at the peak, p50 at c=1, and memory per replica (master and
workers, RSS after the sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import servers
from bench.bundle import BUNDLE_NAME, DEFAULT_CACHE, DEFAULT_RESULTS, PROCESS_ENV, ensure_bundle
from bench.loadgen import Target, run_level
from bench.summary import peak as peak_level
from bench.workload import make_workload

# Name -> the MMS_* settings that make it; the first is the shipped default.
CONFIGS: dict[str, dict[str, str]] = {
    "default (a worker per core, 48 threads, preprocess_concurrency = cores)": {},
    "1 worker": {"MMS_WORKERS": "1"},
    "1 worker, preprocess_concurrency 1": {"MMS_WORKERS": "1", "MMS_PREPROCESS_CONCURRENCY": "1"},
    "1 worker, 16 threads": {"MMS_WORKERS": "1", "MMS_THREADS": "16"},
}
# --starts: the shipped default as each entry point starts it (same bundle, same settings).
STARTS = {
    "gunicorn -c config/gunicorn.conf.py wsgi:app": "gunicorn",
    "bash dev.sh serve": "dev.sh",
    "the image's CMD (its ENV, layout and build-time caches)": "image",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each level")
    parser.add_argument("--concurrency", default="1,2,4,8,16")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--starts", action="store_true", help="compare the entry points instead (starts.md)"
    )
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    return args


def replica_rss_mib(server: servers.Server) -> float:
    """RSS of the master and its workers: what one replica of this configuration holds."""
    pids = [server.pid, *servers.worker_pids(server.pid)]
    return round(sum(servers.rss_mib(pid) or 0.0 for pid in pids), 1)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every configuration's sweep and summary."""
    models_dir = args.cache_dir / "models"
    ensure_bundle(models_dir, args.cache_dir / "logs" / "build.log")
    body, ctype = make_workload().multipart()
    base = {**PROCESS_ENV, "MMS_MODELS_DIR": str(models_dir), "MMS_DEFAULT_MODEL": BUNDLE_NAME}
    started: dict[str, tuple[servers.Server, dict]] = {}
    try:
        runs = {n: ("gunicorn", e) for n, e in CONFIGS.items()}
        if args.starts:
            runs = {n: (start, {}) for n, start in STARTS.items()}
        for i, (name, (start, settings)) in enumerate(runs.items()):
            log = args.cache_dir / "logs" / f"config-{i}.log"
            server = START[start](name, {**base, **settings}, log, args.cache_dir / f"image-{i}")
            cold = servers.wait_until(
                server, lambda port, s=server: _ready(port) and servers.all_workers_ready(s)
            )
            print(f"[configs] {name}: ready after {cold:.1f} s", flush=True)
            started[name] = (server, {"settings": settings, "cold_start_s": round(cold, 1)})
            started[name][1]["sweep"] = []
        for level in args.levels:
            for name, (server, result) in started.items():
                target = Target(servers.HOST, server.port, "/predict", body, ctype)
                stats = run_level(
                    target, level, args.duration, args.warmup, servers.cpu_counters(server)
                )
                rps = stats["throughput_rps"]
                stats["server_cpu_ms_per_request"] = (
                    round(1000.0 * stats["cpu_cores"]["server"] / rps, 1) if rps else None
                )
                result["sweep"].append(stats)
                print(f"[configs] {name} c={level}: {rps:.1f} req/s", flush=True)
        for server, result in started.values():
            result["replica_rss_mib"] = replica_rss_mib(server)
            result["thread_pools"] = servers.thread_pools(server)
            result["summary"] = summary(result)
    finally:
        for server, _ in started.values():
            servers.stop(server)
    return {
        "meta": {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "duration_s": args.duration,
            "levels": args.levels,
            "environment": "clean (PATH, HOME, OPENBLAS_CORETYPE/L2_SIZE kept) + the settings",
        },
        "configs": {name: result for name, (_, result) in started.items()},
    }


def _gunicorn(name: str, env: dict[str, str], log: Path, _: Path) -> servers.Server:
    return servers.start_gunicorn(name, "wsgi:app", env, log)


def _dev_sh(name: str, env: dict[str, str], log: Path, _: Path) -> servers.Server:
    return servers.start_command(name, ["bash", "dev.sh", "serve"], env, log)


def _image(name: str, env: dict[str, str], log: Path, root: Path) -> servers.Server:
    """The Dockerfile's CMD in its final stage's layout (``bench.image_layout``, no Docker engine
    needed); the bundle folder is mounted as a user's would be."""
    import shutil

    from bench.image_layout import final_layout

    shutil.rmtree(root, ignore_errors=True)
    layout = final_layout(root)
    cmd = layout.stage.last("CMD")
    return servers.start_command(
        name, layout.argv(cmd.value), {**layout.env, **env}, log, cwd=layout.cwd, clean=False
    )


START = {"gunicorn": _gunicorn, "dev.sh": _dev_sh, "image": _image}


def _ready(port: int) -> bool:
    return servers.request(port, "GET", "/readyz")[0] == 200


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Peak throughput, CPU per request at the peak, p50 at c=1, memory per replica."""
    peak = peak_level(result["sweep"])
    first = result["sweep"][0]
    return {
        "peak_rps": peak["throughput_rps"],
        "peak_concurrency": peak["concurrency"],
        "cpu_ms_per_request_at_peak": peak["server_cpu_ms_per_request"],
        "p50_ms_at_c1": first["p50_ms"],
        "replica_rss_mib": result["replica_rss_mib"],
        "cold_start_s": result["cold_start_s"],
    }


def markdown(results: dict[str, Any]) -> str:
    """The summaries as one table."""
    meta = results["meta"]
    lines = [
        f"{meta['machine']}, {meta['date']}; {meta['duration_s']:g} s per level, levels "
        f"{meta['levels']}, levels interleaved; each server started with {meta['environment']}.",
        "",
        "| configuration | peak req/s (at c) | CPU ms/request at peak | p50 ms at c=1 "
        "| RSS per replica MiB | cold start s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results["configs"].items():
        s = result["summary"]
        lines.append(
            f"| {name} | {s['peak_rps']:.1f} ({s['peak_concurrency']}) "
            f"| {s['cpu_ms_per_request_at_peak']} | {s['p50_ms_at_c1']} "
            f"| {s['replica_rss_mib']} | {s['cold_start_s']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: measure, print the table, write the results."""
    args = parse_args(argv)
    results = measure(args)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = "starts" if args.starts else "configs"
    (args.results_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (args.results_dir / f"{stem}.md").write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
