"""Run the whole benchmark in one go: ours, ``main``, the seed-style baseline, the pipeline limit.

``python -m bench.run [--duration S] [--concurrency 1,2,4,...] [--soak] [--against REF]`` builds
the bench bundle and workload; serves it with the working tree ("ours") and with commit REF
("main", unpacked from git; default the ``main`` issue 11 is measured against), sweeping the two
level by level, interleaved; then with the seed-style baseline; all with the same gunicorn config on
free loopback ports. It measures the in-process pipeline limit and the per-stage costs, prints the
table and ratios, and writes results under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.cli.progress import track
from bench import against, report, servers, stages
from bench.loadgen import Target, run_count, run_level
from bench.workload import make_workload

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH_DIR / ".cache"
DEFAULT_RESULTS = BENCH_DIR / "results"
BUNDLE_NAME = "bench"
# Beside a clean environment, only what the product's own start sets (dev.sh and the image quiet
# TensorFlow's C++ log): thread pools are the service's business, as a user's plain start gets them.
PROCESS_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each level")
    parser.add_argument("--concurrency", default="1,2,4,8,16,32", help="comma-separated levels")
    parser.add_argument("--soak", action="store_true", help="then soak our service")
    parser.add_argument("--soak-requests", type=int, default=5000)
    parser.add_argument("--soak-concurrency", type=int, default=8)
    parser.add_argument("--pipeline-duration", type=float, help="default: --duration")
    parser.add_argument("--batch", type=int, default=16, help="pipeline limit's batch size")
    parser.add_argument("--stage-repeats", type=int, default=stages.DEFAULT_REPEATS,
                        help="runs per stage of the per-stage cost table")  # fmt: skip
    parser.add_argument("--against", default=against.ISSUE_11_MAIN, metavar="REF",
                        help="also serve this commit, interleaved with ours ('' to skip); "
                        "default: main when issue 11 was filed")  # fmt: skip
    parser.add_argument("--rebuild", action="store_true", help="rebuild the bench bundle")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.levels or min(args.levels) < 1 or max(args.levels) > 256:
        parser.error("--concurrency takes levels between 1 and 256")
    if args.pipeline_duration is None:
        args.pipeline_duration = args.duration
    return args


def gunicorn_settings() -> dict[str, Any]:
    """The effective workers/threads/worker class of config/gunicorn.conf.py in this env."""
    saved = dict(os.environ)
    try:
        conf = runpy.run_path(str(servers.GUNICORN_CONF))
    finally:  # the config sets defaults in os.environ; keep ours untouched
        os.environ.clear()
        os.environ.update(saved)
    return {key: conf.get(key) for key in ("workers", "threads", "worker_class", "keepalive")}


def build_bundle(models_dir: Path, log_path: Path) -> float:
    """Build the bench bundle in a subprocess (keeps TensorFlow out of the load generator)."""
    started = time.monotonic()
    _run_logged([sys.executable, "-m", "bench.build_bench_bundle", str(models_dir)], log_path)
    return round(time.monotonic() - started, 2)


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
    name: str, server: servers.Server, result: dict, level: int, args: argparse.Namespace,
    body: bytes, ctype: str,
) -> None:  # fmt: skip
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
    name: str, server: servers.Server, result: dict, args: argparse.Namespace,
    body: bytes, ctype: str,
) -> None:  # fmt: skip
    """What is read after the sweep: worker state, stage histograms and (ours) the soak."""
    result["workers_after_sweep"] = servers.snapshot(server)
    result["metrics_trace_lines"] = _trace_metrics(server.port)
    if name == "ours":  # the stage histograms over the whole sweep, for the stage table
        result["stage_metrics"] = stages.scrape_stage_metrics(server.port)
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


def pipeline_limit(bundle_dir: Path, workload_dir: Path, args: argparse.Namespace) -> dict:
    """The in-process limit, measured in a fresh subprocess with nothing else of ours running."""
    out = args.cache_dir / "pipeline.json"
    command = [sys.executable, "-m", "bench.pipeline", str(bundle_dir), str(workload_dir)]
    command += ["--duration", str(args.pipeline_duration), "--warmup", str(min(args.warmup, 3.0))]
    command += ["--batch", str(args.batch), "--out", str(out)]
    _run_logged(command, args.cache_dir / "logs" / "pipeline.log")
    return json.loads(out.read_text())


def stage_costs(bundle_dir: Path, workload_dir: Path, args: argparse.Namespace, ours: dict) -> dict:
    """The per-stage table: in-process stages beside ours at its peak (CPU, timing_ms, metrics)."""
    in_process = stages.measure_in_subprocess(
        bundle_dir, workload_dir, args.cache_dir / "stages.json",
        args.cache_dir / "logs" / "stages.log", args.stage_repeats,
    )  # fmt: skip
    peak = report._peak(ours["sweep"])
    live = stages.live_figures(peak, ours.get("stage_metrics", {}))
    section = {"in_process": in_process, "live": live}
    stages.write(section, args.results_dir)
    return section


def _run_logged(command: list[str], log_path: Path) -> None:
    """Run a Python helper with the servers' environment, its output into ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        code = subprocess.run(
            command,
            cwd=servers.ROOT,
            env={**servers.clean_environ(), **PROCESS_ENV},
            stdout=log,
            stderr=log,
        ).returncode
    if code:
        raise RuntimeError(f"{' '.join(command[1:4])} failed ({code}):\n{servers.tail(log_path)}")


def main(argv: list[str] | None = None) -> int:
    """Run everything and write the results; the exit status is 0 when the run completed."""
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the servers this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    started = time.time()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    models_dir = args.cache_dir / "models"
    workload = make_workload()
    workload_dir = args.cache_dir / "workload"
    files = workload.save(workload_dir)
    body, ctype = workload.multipart()
    bundle_dir = models_dir / BUNDLE_NAME / "1"
    # A rebuilt model file (new save date inside) is a new model to the service: its first start
    # exports it to ONNX again. Reusing the bundle measures the start a deployed model has.
    if args.rebuild or not (bundle_dir / "model.keras").is_file():
        print(f"[bench] building the bench bundle into {models_dir}", flush=True)
        build_s = build_bundle(models_dir, args.cache_dir / "logs" / "build.log")
    else:
        print(f"[bench] reusing the bench bundle in {bundle_dir} (--rebuild builds it)", flush=True)
        build_s = None
    env = {
        **PROCESS_ENV,
        "MMS_MODELS_DIR": str(models_dir),
        "MMS_DEFAULT_MODEL": BUNDLE_NAME,
        "BENCH_BUNDLE_DIR": str(bundle_dir),
    }
    results: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "loadavg_start": os.getloadavg(),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "gunicorn": gunicorn_settings(),
            "server_environment": "clean (PATH, HOME, OPENBLAS_CORETYPE/L2_SIZE kept) + env",
        },
        "workload": {
            "files": files,
            "image_bytes": len(workload.image),
            "audio_bytes": len(workload.audio),
            "text_words": len(workload.text.split()),
            "request_body_bytes": len(body),
        },
        "bundle": {"path": str(bundle_dir), "build_s": build_s},
        "servers": {},
    }
    if args.against:
        root, sha = against.checkout(args.against, args.cache_dir)
        results["meta"]["against"] = {"ref": args.against, "commit": sha}
        print(f"[bench] main = {args.against} ({sha[:12]}), unpacked in {root}", flush=True)
        results["servers"] |= bench_servers(
            {"main": root, "ours": servers.ROOT}, args, env, body, ctype
        )
    else:
        results["servers"] |= bench_servers({"ours": servers.ROOT}, args, env, body, ctype)
    results["servers"] |= bench_servers({"baseline": servers.ROOT}, args, env, body, ctype)
    print("[bench] measuring the pipeline limit", flush=True)
    results["pipeline"] = pipeline_limit(bundle_dir, workload_dir, args)
    print("[bench] measuring the per-stage costs", flush=True)
    results["stages"] = stage_costs(bundle_dir, workload_dir, args, results["servers"]["ours"])
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["wall_s"] = round(time.time() - started, 1)
    results["summary"] = report.summarize(results)
    report.write_results(results, args.results_dir)
    print()
    print(report.text_table(results))
    print()
    print(stages.markdown(results["stages"]))
    written = [*results["files"].values(), *results["stages"]["files"].values()]
    print(f"\nresults: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
