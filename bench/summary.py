"""Benchmark results summed up: peaks, the ratios between servers, and each target figure met.

Two sets of targets, checked on every run (informative: the benchmark is not a CI gate): ours
against the seed-style baseline and the in-process pipeline limit, and ours against ``main``, the
past commit served in the same run (``bench.against``). Ratios measured in one run, rather than
absolute figures, are what carries from one machine or one busy minute to another.
"""

from __future__ import annotations

from typing import Any

SERVERS = ("ours", "main", "baseline")  # "main" only when the run serves a past commit too
# Ours against the baseline and the pipeline limit: throughput, idle latency, tail, start, memory.
MIN_PEAK_OVER_BASELINE = 4.0
MIN_PEAK_OVER_LIMIT = 0.8
MAX_IDLE_P50_OVER_BASELINE = 0.5
MAX_HALF_PEAK_P99_OVER_IDLE_P50 = 3.0
MAX_COLD_START_S = 60.0
MAX_SOAK_RSS_GROWTH = 0.10
# Ours against "main" (bench.against.MAIN_BEFORE_TUNING by default), interleaved in one run.
MAX_CPU_OVER_MAIN = 0.55
MIN_PEAK_OVER_MAIN = 1.8
MAX_IDLE_P50_OVER_MAIN = 0.65


def names(results: dict[str, Any]) -> list[str]:
    """The servers this run measured, in SERVERS order."""
    return [name for name in SERVERS if name in results["servers"]]


def peak(sweep: list[dict]) -> dict:
    """The level of highest throughput."""
    return max(sweep, key=lambda level: level["throughput_rps"])


def half_peak(sweep: list[dict]) -> dict:
    """The lowest concurrency reaching half the peak throughput."""
    half = peak(sweep)["throughput_rps"] / 2.0
    return next(level for level in sweep if level["throughput_rps"] >= half)


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` to 3 places; None when either is missing or ``b`` is 0."""
    return round(a / b, 3) if a is not None and b else None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Peaks, the ratios against the baseline and the limit (and main), each target met or not."""
    servers = results["servers"]
    ours, base = servers["ours"]["sweep"], servers["baseline"]["sweep"]
    limit = results["pipeline"]["throughput_sps"]
    ours_peak, base_peak = peak(ours), peak(base)
    summary: dict[str, Any] = {
        "ours_peak_rps": ours_peak["throughput_rps"],
        "ours_peak_concurrency": ours_peak["concurrency"],
        "baseline_peak_rps": base_peak["throughput_rps"],
        "baseline_peak_concurrency": base_peak["concurrency"],
        "limit_sps": limit,
        "ours_over_baseline": ratio(ours_peak["throughput_rps"], base_peak["throughput_rps"]),
        "ours_over_limit": ratio(ours_peak["throughput_rps"], limit),
        # Server CPU per answer at each peak: the efficiency behind throughput, and less
        # sensitive to other processes taking cores during the run.
        "cpu_ms_per_request_at_peak": {
            "ours": ours_peak.get("server_cpu_ms_per_request"),
            "baseline": base_peak.get("server_cpu_ms_per_request"),
            "limit": round(1000.0 * results["pipeline"]["cpu_cores"] / limit, 1),
        },
        "idle_concurrency": ours[0]["concurrency"],
        "idle_p50_ms": {"ours": ours[0]["p50_ms"], "baseline": base[0]["p50_ms"]},
        "idle_p50_ratio": ratio(ours[0]["p50_ms"], base[0]["p50_ms"]),
        "half_peak": {},
        "cold_start_s": {name: servers[name]["cold_start_s"] for name in names(results)},
    }
    for name in names(results):
        sweep = servers[name]["sweep"]
        level = half_peak(sweep)
        summary["half_peak"][name] = {
            "concurrency": level["concurrency"],
            "throughput_rps": level["throughput_rps"],
            "p99_ms": level["p99_ms"],
            "p99_over_idle_p50": ratio(level["p99_ms"], sweep[0]["p50_ms"]),
        }
    below = [lv for lv in ours if lv["concurrency"] < ours_peak["concurrency"]]
    soak = servers["ours"].get("soak")
    summary["targets"] = {
        "throughput_4x_baseline": at_least(summary["ours_over_baseline"], MIN_PEAK_OVER_BASELINE),
        "throughput_0.8x_limit": at_least(summary["ours_over_limit"], MIN_PEAK_OVER_LIMIT),
        "idle_p50_half_baseline": at_most(summary["idle_p50_ratio"], MAX_IDLE_P50_OVER_BASELINE),
        "half_peak_p99_3x_idle_p50": at_most(
            summary["half_peak"]["ours"]["p99_over_idle_p50"], MAX_HALF_PEAK_P99_OVER_IDLE_P50
        ),
        "cold_start_60s": at_most(servers["ours"]["cold_start_s"], MAX_COLD_START_S),
        "no_errors_below_saturation": all(lv["errors"] == 0 for lv in below),
        "soak_rss_growth_10pct": (
            at_most(soak["rss_growth"], MAX_SOAK_RSS_GROWTH) if soak else None
        ),
    }
    if "main" in servers:
        summary["against_main"] = against_main(servers["ours"], servers["main"])
    return summary


def against_main(ours_server: dict, main_server: dict) -> dict[str, Any]:
    """The ratios ours over main, from sweeps interleaved level by level in one run."""
    ours, main = ours_server["sweep"], main_server["sweep"]
    ours_peak, main_peak = peak(ours), peak(main)
    cpu = "server_cpu_ms_per_request"
    per_level = [
        {
            "concurrency": o["concurrency"],
            "cpu_ms": {"ours": o[cpu], "main": m[cpu]},
            "cpu_ratio": ratio(o[cpu], m[cpu]),
            "throughput_ratio": ratio(o["throughput_rps"], m["throughput_rps"]),
            "p50_ratio": ratio(o["p50_ms"], m["p50_ms"]),
        }
        for o, m in zip(ours, main, strict=True)
    ]
    half = half_peak(ours)
    out: dict[str, Any] = {
        "per_level": per_level,
        # CPU per request over the whole sweep: every level's server CPU over every answer.
        "cpu_ms_per_request": {"ours": sweep_cpu_ms(ours), "main": sweep_cpu_ms(main)},
        "peak_rps": {"ours": ours_peak["throughput_rps"], "main": main_peak["throughput_rps"]},
        "idle_p50_ms": {"ours": ours[0]["p50_ms"], "main": main[0]["p50_ms"]},
        "cold_start_s": {"ours": ours_server["cold_start_s"], "main": main_server["cold_start_s"]},
        "half_peak_p99_over_idle_p50": ratio(half["p99_ms"], ours[0]["p50_ms"]),
    }
    out["cpu_ratio"] = ratio(out["cpu_ms_per_request"]["ours"], out["cpu_ms_per_request"]["main"])
    out["peak_ratio"] = ratio(ours_peak["throughput_rps"], main_peak["throughput_rps"])
    out["idle_p50_ratio"] = ratio(ours[0]["p50_ms"], main[0]["p50_ms"])
    out["targets"] = {
        "cpu_0.55x_main": at_most(out["cpu_ratio"], MAX_CPU_OVER_MAIN),
        "peak_1.8x_main": at_least(out["peak_ratio"], MIN_PEAK_OVER_MAIN),
        "idle_p50_0.65x_main": at_most(out["idle_p50_ratio"], MAX_IDLE_P50_OVER_MAIN),
        "half_peak_p99_3x_idle_p50": at_most(
            out["half_peak_p99_over_idle_p50"], MAX_HALF_PEAK_P99_OVER_IDLE_P50
        ),
        "zero_errors": all(lv["errors_total"] == 0 for lv in ours),
        "cold_start_not_slower": ours_server["cold_start_s"] <= main_server["cold_start_s"],
    }
    return out


def sweep_cpu_ms(sweep: list[dict]) -> float | None:
    """Server CPU ms per answer over a whole sweep."""
    answered = sum(lv["throughput_rps"] * lv["duration_s"] for lv in sweep)
    used = sum(lv["cpu_cores"]["server"] * lv["duration_s"] for lv in sweep)
    return round(1000.0 * used / answered, 2) if answered else None


def at_least(value: float | None, target: float) -> bool | None:
    """Whether ``value`` meets a floor; None when it was not measured."""
    return None if value is None else value >= target


def at_most(value: float | None, target: float) -> bool | None:
    """Whether ``value`` stays under a ceiling; None when it was not measured."""
    return None if value is None else value <= target
