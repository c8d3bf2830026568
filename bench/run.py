"""Run the whole benchmark in one go: ours, ``main``, the seed-style baseline, the pipeline limit.

``python -m bench.run [--duration S] [--concurrency 1,2,4,...] [--soak] [--against REF]`` builds
the bench bundle and workload; serves it with the working tree ("ours") and with commit REF
("main", unpacked from git; default ``against.MAIN_BEFORE_TUNING``), sweeping the two level by
level, interleaved (``bench.sweep``); then with the seed-style baseline; all with the same gunicorn
config on free loopback ports. It measures the in-process pipeline limit and the per-stage costs,
prints the table and ratios, and writes results under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import against, live, report, servers, stages, stages_report, summary
from bench.bundle import (
    BUNDLE_NAME,
    DEFAULT_CACHE,
    DEFAULT_RESULTS,
    PROCESS_ENV,
    bundle_version_dir,
    ensure_bundle,
    run_logged,
)
from bench.sweep import bench_servers
from bench.workload import make_workload


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
    parser.add_argument(
        "--stage-repeats",
        type=int,
        default=stages.DEFAULT_REPEATS,
        help="runs per stage of the per-stage cost table",
    )
    parser.add_argument(
        "--against",
        default=against.MAIN_BEFORE_TUNING,
        metavar="REF",
        help="also serve this commit, interleaved with ours ('' to skip); "
        "default: main before the second round of performance work",
    )
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


def pipeline_limit(bundle_dir: Path, workload_dir: Path, args: argparse.Namespace) -> dict:
    """The in-process limit, measured in a fresh subprocess with nothing else of ours running."""
    out = args.cache_dir / "pipeline.json"
    command = [sys.executable, "-m", "bench.pipeline", str(bundle_dir), str(workload_dir)]
    command += ["--duration", str(args.pipeline_duration), "--warmup", str(min(args.warmup, 3.0))]
    command += ["--batch", str(args.batch), "--out", str(out)]
    run_logged(command, args.cache_dir / "logs" / "pipeline.log")
    return json.loads(out.read_text())


def stage_costs(bundle_dir: Path, workload_dir: Path, args: argparse.Namespace, ours: dict) -> dict:
    """The per-stage table: in-process stages beside ours at its peak (CPU, timing_ms, metrics)."""
    in_process = stages.measure_in_subprocess(
        bundle_dir,
        workload_dir,
        args.cache_dir / "stages.json",
        args.cache_dir / "logs" / "stages.log",
        args.stage_repeats,
    )
    peak = summary.peak(ours["sweep"])
    figures = live.live_figures(peak, ours.get("stage_metrics", {}))
    section = {"in_process": in_process, "live": figures}
    stages_report.write(section, args.results_dir)
    return section


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
    bundle = bundle_version_dir(models_dir)
    if args.rebuild or not (bundle / "model.keras").is_file():
        print(f"[bench] building the bench bundle into {models_dir}", flush=True)
    else:
        print(f"[bench] reusing the bench bundle in {bundle} (--rebuild builds it)", flush=True)
    build_s = ensure_bundle(models_dir, args.cache_dir / "logs" / "build.log", rebuild=args.rebuild)
    env = {
        **PROCESS_ENV,
        "MMS_MODELS_DIR": str(models_dir),
        "MMS_DEFAULT_MODEL": BUNDLE_NAME,
        "BENCH_BUNDLE_DIR": str(bundle),
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
        "bundle": {"path": str(bundle), "build_s": build_s},
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
    results["pipeline"] = pipeline_limit(bundle, workload_dir, args)
    print("[bench] measuring the per-stage costs", flush=True)
    results["stages"] = stage_costs(bundle, workload_dir, args, results["servers"]["ours"])
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["wall_s"] = round(time.time() - started, 1)
    results["summary"] = summary.summarize(results)
    report.write_results(results, args.results_dir)
    print()
    print(report.text_table(results))
    print()
    print(stages_report.markdown(results["stages"]))
    written = [*results["files"].values(), *results["stages"]["files"].values()]
    print(f"\nresults: {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
