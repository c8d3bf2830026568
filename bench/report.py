"""Benchmark results: ratios against the issue's targets, the printed table, JSON and a chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SERVERS = ("ours", "main", "baseline")  # "main" only when the run serves a past commit too
# Issue 4's targets, checked on every run (informative: the benchmark is not a CI gate).
TARGET_OVER_BASELINE = 4.0
TARGET_OVER_LIMIT = 0.8
TARGET_IDLE_P50_RATIO = 0.5
TARGET_HALF_PEAK_P99 = 3.0
TARGET_COLD_START_S = 60.0
TARGET_SOAK_RSS_GROWTH = 0.10
# Issue 11's targets, against "main" (the commit the issue was filed at) in the same run.
TARGET_CPU_OVER_MAIN = 0.55
TARGET_PEAK_OVER_MAIN = 1.8
TARGET_P50_OVER_MAIN = 0.65


def names(results: dict[str, Any]) -> list[str]:
    """The servers this run measured, in SERVERS order."""
    return [name for name in SERVERS if name in results["servers"]]


def _peak(sweep: list[dict]) -> dict:
    return max(sweep, key=lambda level: level["throughput_rps"])


def _half_peak(sweep: list[dict]) -> dict:
    """The lowest concurrency reaching half the peak throughput."""
    half = _peak(sweep)["throughput_rps"] / 2.0
    return next(level for level in sweep if level["throughput_rps"] >= half)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Peaks, the ratios the issue asks for, and whether each target is met."""
    servers = results["servers"]
    ours, base = servers["ours"]["sweep"], servers["baseline"]["sweep"]
    limit = results["pipeline"]["throughput_sps"]
    ours_peak, base_peak = _peak(ours), _peak(base)
    summary: dict[str, Any] = {
        "ours_peak_rps": ours_peak["throughput_rps"],
        "ours_peak_concurrency": ours_peak["concurrency"],
        "baseline_peak_rps": base_peak["throughput_rps"],
        "baseline_peak_concurrency": base_peak["concurrency"],
        "limit_sps": limit,
        "ours_over_baseline": _ratio(ours_peak["throughput_rps"], base_peak["throughput_rps"]),
        "ours_over_limit": _ratio(ours_peak["throughput_rps"], limit),
        # Server CPU per answer at each peak: the efficiency behind throughput, and less
        # sensitive to other processes taking cores during the run.
        "cpu_ms_per_request_at_peak": {
            "ours": ours_peak.get("server_cpu_ms_per_request"),
            "baseline": base_peak.get("server_cpu_ms_per_request"),
            "limit": round(1000.0 * results["pipeline"]["cpu_cores"] / limit, 1),
        },
        "idle_concurrency": ours[0]["concurrency"],
        "idle_p50_ms": {"ours": ours[0]["p50_ms"], "baseline": base[0]["p50_ms"]},
        "idle_p50_ratio": _ratio(ours[0]["p50_ms"], base[0]["p50_ms"]),
        "half_peak": {},
        "cold_start_s": {name: servers[name]["cold_start_s"] for name in names(results)},
    }
    for name in names(results):
        sweep = servers[name]["sweep"]
        level = _half_peak(sweep)
        summary["half_peak"][name] = {
            "concurrency": level["concurrency"],
            "throughput_rps": level["throughput_rps"],
            "p99_ms": level["p99_ms"],
            "p99_over_idle_p50": _ratio(level["p99_ms"], sweep[0]["p50_ms"]),
        }
    below = [lv for lv in ours if lv["concurrency"] < ours_peak["concurrency"]]
    soak = servers["ours"].get("soak")
    summary["targets"] = {
        "throughput_4x_baseline": _at_least(summary["ours_over_baseline"], TARGET_OVER_BASELINE),
        "throughput_0.8x_limit": _at_least(summary["ours_over_limit"], TARGET_OVER_LIMIT),
        "idle_p50_half_baseline": _at_most(summary["idle_p50_ratio"], TARGET_IDLE_P50_RATIO),
        "half_peak_p99_3x_idle_p50": _at_most(
            summary["half_peak"]["ours"]["p99_over_idle_p50"], TARGET_HALF_PEAK_P99
        ),
        "cold_start_60s": _at_most(servers["ours"]["cold_start_s"], TARGET_COLD_START_S),
        "no_errors_below_saturation": all(lv["errors"] == 0 for lv in below),
        "soak_rss_growth_10pct": (
            _at_most(soak["rss_growth"], TARGET_SOAK_RSS_GROWTH) if soak else None
        ),
    }
    if "main" in servers:
        summary["against_main"] = against_main(servers["ours"], servers["main"])
    return summary


def against_main(ours_server: dict, main_server: dict) -> dict[str, Any]:
    """Issue 11's ratios, ours over main, from sweeps interleaved level by level in one run."""
    ours, main = ours_server["sweep"], main_server["sweep"]
    ours_peak, main_peak = _peak(ours), _peak(main)
    cpu = "server_cpu_ms_per_request"
    per_level = [
        {
            "concurrency": o["concurrency"],
            "cpu_ms": {"ours": o[cpu], "main": m[cpu]},
            "cpu_ratio": _ratio(o[cpu], m[cpu]),
            "throughput_ratio": _ratio(o["throughput_rps"], m["throughput_rps"]),
            "p50_ratio": _ratio(o["p50_ms"], m["p50_ms"]),
        }
        for o, m in zip(ours, main, strict=True)
    ]
    half = _half_peak(ours)
    out: dict[str, Any] = {
        "per_level": per_level,
        # CPU per request over the whole sweep: every level's server CPU over every answer.
        "cpu_ms_per_request": {"ours": _sweep_cpu_ms(ours), "main": _sweep_cpu_ms(main)},
        "peak_rps": {"ours": ours_peak["throughput_rps"], "main": main_peak["throughput_rps"]},
        "idle_p50_ms": {"ours": ours[0]["p50_ms"], "main": main[0]["p50_ms"]},
        "cold_start_s": {"ours": ours_server["cold_start_s"], "main": main_server["cold_start_s"]},
        "half_peak_p99_over_idle_p50": _ratio(half["p99_ms"], ours[0]["p50_ms"]),
    }
    out["cpu_ratio"] = _ratio(out["cpu_ms_per_request"]["ours"], out["cpu_ms_per_request"]["main"])
    out["peak_ratio"] = _ratio(ours_peak["throughput_rps"], main_peak["throughput_rps"])
    out["idle_p50_ratio"] = _ratio(ours[0]["p50_ms"], main[0]["p50_ms"])
    out["targets"] = {
        "cpu_0.55x_main": _at_most(out["cpu_ratio"], TARGET_CPU_OVER_MAIN),
        "peak_1.8x_main": _at_least(out["peak_ratio"], TARGET_PEAK_OVER_MAIN),
        "idle_p50_0.65x_main": _at_most(out["idle_p50_ratio"], TARGET_P50_OVER_MAIN),
        "half_peak_p99_3x_idle_p50": _at_most(
            out["half_peak_p99_over_idle_p50"], TARGET_HALF_PEAK_P99
        ),
        "zero_errors": all(lv["errors_total"] == 0 for lv in ours),
        "cold_start_not_slower": ours_server["cold_start_s"] <= main_server["cold_start_s"],
    }
    return out


def _sweep_cpu_ms(sweep: list[dict]) -> float | None:
    answered = sum(lv["throughput_rps"] * lv["duration_s"] for lv in sweep)
    used = sum(lv["cpu_cores"]["server"] * lv["duration_s"] for lv in sweep)
    return round(1000.0 * used / answered, 2) if answered else None


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def _at_most(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


def _fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per server and concurrency level, then the pipeline limit."""
    rows = []
    for name in names(results):
        for lv in results["servers"][name]["sweep"]:
            cpu = lv.get("cpu_cores", {})
            rows.append(
                [
                    name,
                    str(lv["concurrency"]),
                    _fmt(lv["throughput_rps"]),
                    _fmt(lv["p50_ms"]),
                    _fmt(lv["p90_ms"]),
                    _fmt(lv["p99_ms"]),
                    str(lv["errors"]),
                    _fmt(cpu.get("server"), 2),
                    _fmt(lv.get("server_cpu_ms_per_request")),
                    _fmt(cpu.get("client"), 3),
                    _fmt(cpu.get("other"), 2),
                ]
            )
    pipe = results["pipeline"]
    rows.append(
        ["limit", f"b{pipe['batch']}", _fmt(pipe["throughput_sps"]), "-", "-", "-", "0"]
        + [_fmt(pipe["cpu_cores"], 2), _fmt(1000.0 * pipe["cpu_cores"] / pipe["throughput_sps"])]
        + ["-", "-"]
    )
    return rows


HEADER = [
    "server", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors",
    "srv cores", "srv CPU ms/req", "client cores", "other cores",
]  # fmt: skip


def markdown_table(results: dict[str, Any]) -> str:
    """The results table and ratios as Markdown, for the README."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {line}" for line in ratio_lines(results))


def text_table(results: dict[str, Any]) -> str:
    """The results table and ratios as aligned plain text."""
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    text = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(text) + "\n\n" + "\n".join(ratio_lines(results))


def ratio_lines(results: dict[str, Any]) -> list[str]:
    """The ratios, cold starts, memory and soak, one sentence each."""
    s = results["summary"]
    servers = results["servers"]
    ours_half = s["half_peak"]["ours"]
    lines = [
        f"ours/baseline at saturation: {_fmt(s['ours_over_baseline'], 2)}x "
        f"({s['ours_peak_rps']:.1f} req/s at c={s['ours_peak_concurrency']} vs "
        f"{s['baseline_peak_rps']:.1f} at c={s['baseline_peak_concurrency']})",
        f"ours/pipeline limit: {_fmt(s['ours_over_limit'], 2)}x "
        f"(limit {s['limit_sps']:.1f} samples/s)",
        "server CPU per request at peak: "
        + ", ".join(f"{k} {_fmt(v)} ms" for k, v in s["cpu_ms_per_request_at_peak"].items()),
        f"idle p50 (c={s['idle_concurrency']}): ours {_fmt(s['idle_p50_ms']['ours'])} ms, "
        f"baseline {_fmt(s['idle_p50_ms']['baseline'])} ms, ratio {_fmt(s['idle_p50_ratio'], 2)}",
        f"p99 at ~half peak (ours c={ours_half['concurrency']}, "
        f"{ours_half['throughput_rps']:.1f} req/s): {_fmt(ours_half['p99_ms'])} ms = "
        f"{_fmt(ours_half['p99_over_idle_p50'], 2)}x idle p50",
        "cold start to ready: "
        + ", ".join(f"{n} {_fmt(servers[n]['cold_start_s'])} s" for n in names(results)),
        "worker RSS after sweep (MiB): "
        + ", ".join(
            f"{n} {[w['rss_mib'] for w in servers[n]['workers_after_sweep'].values()]}"
            for n in names(results)
        ),
    ]
    if "against_main" in s:
        lines += main_lines(s["against_main"], results["meta"].get("against", {}))
    soak = servers["ours"].get("soak")
    if soak:
        lines.append(
            f"soak: {soak['requests']} requests at c={soak['concurrency']}, "
            f"{soak['errors']} errors, {soak['throughput_rps']:.1f} req/s; worker RSS "
            f"{soak['rss_before_mib']} -> {soak['rss_after_mib']} MiB "
            f"({100 * soak['rss_growth']:+.1f}%)"
        )
    missed = [name for name, ok in s["targets"].items() if ok is False]
    lines.append("issue 4 targets missed: " + (", ".join(missed) or "none"))
    return lines


def main_lines(a: dict[str, Any], against: dict[str, str]) -> list[str]:
    """Issue 11's ratios (ours over main), one sentence each, then the targets missed."""
    levels = ", ".join(
        f"c={lv['concurrency']} {_fmt(lv['cpu_ms']['ours'])}/{_fmt(lv['cpu_ms']['main'])} ms"
        f" ({_fmt(lv['cpu_ratio'], 2)}x)"
        for lv in a["per_level"]
    )
    missed = [name for name, ok in a["targets"].items() if ok is False]
    return [
        f"against main ({against.get('ref', '?')} = {against.get('commit', '?')[:12]}), "
        "sweeps interleaved level by level:",
        f"  server CPU per request over the sweep: ours {_fmt(a['cpu_ms_per_request']['ours'], 2)}"
        f" ms, main {_fmt(a['cpu_ms_per_request']['main'], 2)} ms, ratio "
        f"{_fmt(a['cpu_ratio'], 2)}x (target <= {TARGET_CPU_OVER_MAIN}x); by level ours/main: "
        + levels,
        f"  peak throughput: ours {a['peak_rps']['ours']:.1f}, main {a['peak_rps']['main']:.1f} "
        f"req/s, ratio {_fmt(a['peak_ratio'], 2)}x (target >= {TARGET_PEAK_OVER_MAIN}x)",
        f"  p50 at c=1: ours {_fmt(a['idle_p50_ms']['ours'])} ms, main "
        f"{_fmt(a['idle_p50_ms']['main'])} ms, ratio {_fmt(a['idle_p50_ratio'], 2)}x "
        f"(target <= {TARGET_P50_OVER_MAIN}x)",
        f"  ours p99 at half peak = {_fmt(a['half_peak_p99_over_idle_p50'], 2)}x its idle p50 "
        f"(target <= {TARGET_HALF_PEAK_P99}x); cold start ours {_fmt(a['cold_start_s']['ours'])} s,"
        f" main {_fmt(a['cold_start_s']['main'])} s",
        "  issue 11 targets missed: " + (", ".join(missed) or "none"),
    ]


def write_chart(results: dict[str, Any], path: Path) -> bool:
    """Throughput and p99 against concurrency as a PNG; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"ours": "tab:blue", "main": "tab:purple", "baseline": "tab:orange"}
    for name in names(results):
        colour = colours[name]
        sweep = results["servers"][name]["sweep"]
        conc = [lv["concurrency"] for lv in sweep]
        left.plot(conc, [lv["throughput_rps"] for lv in sweep], "o-", color=colour, label=name)
        right.plot(conc, [lv["p99_ms"] for lv in sweep], "o-", color=colour, label=f"{name} p99")
        right.plot(conc, [lv["p50_ms"] for lv in sweep], ".--", color=colour, alpha=0.5,
                   label=f"{name} p50")  # fmt: skip
    left.axhline(results["pipeline"]["throughput_sps"], color="tab:green", ls=":",
                 label="pipeline limit")  # fmt: skip
    left.set(xscale="log", xlabel="concurrency", ylabel="requests/s", title="throughput")
    left.set_ylim(bottom=0)
    right.set(xscale="log", yscale="log", xlabel="concurrency", ylabel="ms", title="latency")
    for axis in (left, right):
        axis.set_xticks(conc, [str(c) for c in conc])
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_results(results: dict[str, Any], folder: Path) -> dict[str, str]:
    """results.json, table.md and chart.png under ``folder``; returns what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"json": folder / "results.json", "table": folder / "table.md"}
    if write_chart(results, folder / "chart.png"):
        written["chart"] = folder / "chart.png"
    results["files"] = {key: str(path) for key, path in written.items()}
    written["json"].write_text(json.dumps(results, indent=2) + "\n")
    written["table"].write_text(markdown_table(results) + "\n")
    return results["files"]
