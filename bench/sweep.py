"""The servers under test, served side by side: cold start, interleaved concurrency sweeps, soak.

``bench_servers`` starts each server in turn from its own root (the working tree, or a past commit
unpacked by ``bench.against``), sweeps them level by level, interleaved, then reads what is read
after the load; it always stops what it started. ``bench.run`` calls it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.progress import track
from bench import live, servers
from bench.loadgen import Target, run_count, run_level


def start_server(
    name: str, args: argparse.Namespace, env: dict, body: bytes, ctype: str, root: Path
) -> tuple[servers.Server, dict]:
    """Start one server from ``root`` and time its cold start (process start to ready)."""
    wsgi = "bench.baseline_app:app" if name == "baseline" else "wsgi:app"
    log_path = args.cache_dir / "logs" / f"{name}.log"
    if name == "baseline":
        # One process, as the demos it stands for run: it has no warm-up, so a second worker
        # would meet its first requests cold (librosa's JIT, Keras' tracing) inside a level.
        env = {**env, "MMS_WORKERS": "1"}
    server = servers.start_gunicorn(name, wsgi, env, log_path, root)
    try:
        if name == "baseline":  # it has no readiness route: ready is its first good answer

            def probe(port: int) -> bool:
                return _predict_probe(port, body, ctype)

        else:

            def probe(port: int) -> bool:
                return _ready_probe(port) and servers.all_workers_ready(server)

        cold_start = servers.wait_until(server, probe)
    except BaseException:
        servers.stop(server)
        raise
    print(f"[bench] {name}: ready after {cold_start:.1f} s (pid {server.pid})", flush=True)
    result: dict[str, Any] = {
        "wsgi": wsgi,
        "root": str(root),
        "master_pid": server.pid,
        "cold_start_s": round(cold_start, 2),
        "workers_ready": servers.snapshot(server),
        "environment": {**servers.clean_environ(), **env},
        "sweep": [],
    }
    return server, result


def sweep_level(
    name: str,
    server: servers.Server,
    result: dict,
    level: int,
    args: argparse.Namespace,
    body: bytes,
    ctype: str,
) -> None:
    """One closed-loop concurrency level against ``server``, appended to its sweep."""
    target = Target(servers.HOST, server.port, "/predict", body, ctype, parse_timing=True)
    stats = run_level(target, level, args.duration, args.warmup, servers.cpu_counters(server))
    cpu = stats["cpu_cores"]
    cpu["other"] = round(max(0.0, cpu["machine"] - cpu["server"] - cpu["client"]), 3)
    # CPU per answer: comparable across runs even when other processes take cores.
    stats["server_cpu_ms_per_request"] = (
        round(1000.0 * cpu["server"] / stats["throughput_rps"], 1)
        if stats["throughput_rps"]
        else None
    )
    result["sweep"].append(stats)
    print(
        f"[bench] {name} c={level}: {stats['throughput_rps']:.1f} req/s, "
        f"p50 {stats['p50_ms']} ms, p99 {stats['p99_ms']} ms, errors {stats['errors']}, "
        f"server {cpu['server']:.2f} cores, other {cpu['other']:.2f}",
        flush=True,
    )


def finish_server(
    name: str,
    server: servers.Server,
    result: dict,
    args: argparse.Namespace,
    body: bytes,
    ctype: str,
) -> None:
    """What is read after the sweep: worker state, stage histograms and (ours) the soak."""
    result["workers_after_sweep"] = servers.snapshot(server)
    result["metrics_trace_lines"] = _trace_metrics(server.port)
    if name == "ours":  # the stage histograms over the whole sweep, for the stage table
        result["stage_metrics"] = live.scrape_stage_metrics(server.port)
        if args.soak:
            target = Target(servers.HOST, server.port, "/predict", body, ctype, parse_timing=True)
            result["soak"] = soak(server, target, args.soak_requests, args.soak_concurrency)


def bench_servers(
    roots: dict[str, Path], args: argparse.Namespace, env: dict, body: bytes, ctype: str
) -> dict[str, dict]:
    """Start each server in turn, then sweep them level by level, interleaved; always stop them.

    Interleaving puts every level of each server in the same minute as the others', so a change
    in what else the machine runs moves both sides of a ratio alike.
    """
    started: dict[str, tuple[servers.Server, dict]] = {}
    try:
        for name, root in roots.items():  # one at a time: cold starts do not compete
            started[name] = start_server(name, args, env, body, ctype, root)
        for level in track(args.levels, f"{', '.join(roots)}: concurrency levels"):
            for name, (server, result) in started.items():
                sweep_level(name, server, result, level, args, body, ctype)
        for name, (server, result) in started.items():
            finish_server(name, server, result, args, body, ctype)
            # Logged by each worker once ready; read after the load, when every worker has.
            result["thread_pools"] = servers.thread_pools(server)
        return {name: result for name, (_, result) in started.items()}
    finally:
        for name, (server, _) in started.items():
            print(f"[bench] {name}: stopped (exit {servers.stop(server)})", flush=True)


def _ready_probe(port: int) -> bool:
    return servers.request(port, "GET", "/readyz")[0] == 200


def _predict_probe(port: int, body: bytes, ctype: str) -> bool:
    return servers.request(port, "POST", "/predict", body, {"Content-Type": ctype})[0] == 200


def _trace_metrics(port: int) -> list[str]:
    """Lines of /metrics that mention tracing, if the service exposes any (it may not yet)."""
    try:
        status, text = servers.request(port, "GET", "/metrics")
    except OSError:
        return []
    if status != 200:
        return []
    return [ln for ln in text.decode(errors="replace").splitlines() if "trac" in ln.lower()][:20]


def soak(server: servers.Server, target: Target, total: int, concurrency: int) -> dict:
    """``total`` requests at ``concurrency``; worker RSS before and after."""
    before = servers.snapshot(server)
    stats = run_count(target, concurrency, total)
    after = servers.snapshot(server)
    rss_before = sum(w["rss_mib"] or 0.0 for w in before.values())
    rss_after = sum(w["rss_mib"] or 0.0 for w in after.values())
    stats.update(
        workers_before=before,
        workers_after=after,
        rss_before_mib=round(rss_before, 1),
        rss_after_mib=round(rss_after, 1),
        rss_growth=round((rss_after - rss_before) / rss_before, 4) if rss_before else None,
    )
    print(
        f"[bench] soak: {stats['requests']} requests, {stats['errors']} errors, "
        f"RSS {rss_before:.0f} -> {rss_after:.0f} MiB",
        flush=True,
    )
    return stats
