"""A tiny run of the benchmark (bench.run): real gunicorn servers, real HTTP, the results JSON.

The benchmark's numbers are not checked here (CI machines are noisy); that it runs end to end,
answers every request with 200, writes its results and stops every server it started is.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 240
LEVEL_KEYS = {
    "concurrency",
    "duration_s",
    "requests",
    "ok",
    "errors",
    "errors_total",
    "error_kinds",
    "throughput_rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "cpu_cores",
}
SUMMARY_KEYS = {
    "ours_peak_rps",
    "baseline_peak_rps",
    "limit_sps",
    "ours_over_baseline",
    "ours_over_limit",
    "idle_p50_ratio",
    "half_peak",
    "cold_start_s",
    "targets",
}


def run_bench(tmp_path: Path) -> tuple[int, str]:
    """``python -m bench.run`` with tiny durations; killed with its servers if it overruns."""
    log_path = tmp_path / "bench.log"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--duration",
        "1",
        "--warmup",
        "0.5",
        "--concurrency",
        "1,2",
        "--soak",
        "--soak-requests",
        "20",
        "--soak-concurrency",
        "2",
        "--pipeline-duration",
        "1",
        "--stage-repeats",
        "3",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--results-dir",
        str(tmp_path / "results"),
        # A commit every clone has (the default, an older one, is absent from shallow clones).
        "--against",
        "HEAD",
    ]
    with open(log_path, "wb") as log:
        # Its own process group, so the servers it spawned can be killed with it as a last resort.
        proc = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        code = proc.wait(RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.terminate()  # bench.run stops its servers on SIGTERM
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return code, log_path.read_text(errors="replace")


def test_benchmark_smoke_run(tmp_path):
    code, log = run_bench(tmp_path)
    assert code == 0, log[-5000:]
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert set(results) >= {"meta", "workload", "bundle", "servers", "pipeline", "summary"}
    assert results["workload"]["text_words"] == 20
    for name in ("ours", "main", "baseline"):
        server = results["servers"][name]
        assert server["cold_start_s"] > 0
        assert [level["concurrency"] for level in server["sweep"]] == [1, 2]
        for level in server["sweep"]:
            assert set(level) >= LEVEL_KEYS, level
            assert level["ok"] > 0 and level["errors"] == 0 and level["errors_total"] == 0, level
            assert level["p50_ms"] <= level["p90_ms"] <= level["p99_ms"]
        assert server["workers_after_sweep"], "no gunicorn worker found"
        pids = [server["master_pid"], *map(int, server["workers_after_sweep"])]
        assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "a server still runs"
    soak = results["servers"]["ours"]["soak"]
    assert soak["requests"] == 20 and soak["errors"] == 0 and soak["rss_before_mib"] > 0
    assert results["servers"]["ours"]["sweep"][0]["server_timing_ms"]["inference"] > 0
    assert results["pipeline"]["throughput_sps"] > 0 and results["pipeline"]["trace_count"] == 1
    assert set(results["summary"]) >= SUMMARY_KEYS
    # "main" ran from an unpacked commit, not the working tree, and was compared level by level.
    assert results["servers"]["main"]["root"] != str(ROOT)
    assert Path(results["servers"]["main"]["root"], "wsgi.py").is_file()
    against = results["summary"]["against_main"]
    assert [lv["concurrency"] for lv in against["per_level"]] == [1, 2]
    assert against["cpu_ratio"] > 0 and against["peak_ratio"] > 0
    assert set(against["targets"]) >= {"cpu_0.55x_main", "peak_1.8x_main", "idle_p50_0.65x_main"}
    assert "against main (HEAD" in log
    assert (tmp_path / "results" / "table.md").read_text().startswith("| server |")
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "results" / "chart.png").stat().st_size > 0
    # The per-stage section: every stage measured, the live CPU and /metrics histograms read.
    stage_costs = results["stages"]
    assert all(v["cpu_ms"] > 0 for v in stage_costs["in_process"]["stages"].values())
    assert stage_costs["live"]["server_cpu_ms_per_request"] > 0
    assert stage_costs["live"]["metrics_means"]["mms_batch_size"]["mean"] >= 1
    assert "live - sum" in (tmp_path / "results" / "stages.md").read_text()
