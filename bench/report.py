"""Benchmark results rendered: the printed table and ratios, table.md, results.json, chart.png.

The figures come from ``bench.summary``; nothing here measures or judges.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.summary import (
    MAX_CPU_OVER_MAIN,
    MAX_HALF_PEAK_P99_OVER_IDLE_P50,
    MAX_IDLE_P50_OVER_MAIN,
    MIN_PEAK_OVER_MAIN,
    names,
)


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
    *("server", "conc", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors"),
    *("srv cores", "srv CPU ms/req", "client cores", "other cores"),
]


def markdown_table(results: dict[str, Any]) -> str:
    """The results table and ratios as Markdown, for bench/README.md."""
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
    lines.append("targets against baseline and limit missed: " + (", ".join(missed) or "none"))
    return lines


def main_lines(a: dict[str, Any], against: dict[str, str]) -> list[str]:
    """The ratios ours over main, one sentence each, then the targets missed."""
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
        f"{_fmt(a['cpu_ratio'], 2)}x (target <= {MAX_CPU_OVER_MAIN}x); by level ours/main: "
        + levels,
        f"  peak throughput: ours {a['peak_rps']['ours']:.1f}, main {a['peak_rps']['main']:.1f} "
        f"req/s, ratio {_fmt(a['peak_ratio'], 2)}x (target >= {MIN_PEAK_OVER_MAIN}x)",
        f"  p50 at c=1: ours {_fmt(a['idle_p50_ms']['ours'])} ms, main "
        f"{_fmt(a['idle_p50_ms']['main'])} ms, ratio {_fmt(a['idle_p50_ratio'], 2)}x "
        f"(target <= {MAX_IDLE_P50_OVER_MAIN}x)",
        f"  ours p99 at half peak = {_fmt(a['half_peak_p99_over_idle_p50'], 2)}x its idle p50 "
        f"(target <= {MAX_HALF_PEAK_P99_OVER_IDLE_P50}x); cold start ours "
        f"{_fmt(a['cold_start_s']['ours'])} s, main {_fmt(a['cold_start_s']['main'])} s",
        "  targets against main missed: " + (", ".join(missed) or "none"),
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
        p50 = [lv["p50_ms"] for lv in sweep]
        right.plot(conc, p50, ".--", color=colour, alpha=0.5, label=f"{name} p50")
    limit = results["pipeline"]["throughput_sps"]
    left.axhline(limit, color="tab:green", ls=":", label="pipeline limit")
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


def write_outputs(
    data: dict[str, Any],
    folder: Path,
    names: tuple[str, str, str],
    table: Callable[[dict], str],
    chart: Callable[[dict, Path], bool],
) -> dict[str, str]:
    """``data`` as JSON, ``table(data)`` and ``chart(data, path)`` under ``folder``, named by
    ``names`` (JSON, table, chart); what was written is returned and kept in ``data["files"]``."""
    folder.mkdir(parents=True, exist_ok=True)
    json_name, table_name, chart_name = names
    written = {"json": folder / json_name, "table": folder / table_name}
    if chart(data, folder / chart_name):
        written["chart"] = folder / chart_name
    data["files"] = {key: str(path) for key, path in written.items()}
    written["json"].write_text(json.dumps(data, indent=2) + "\n")
    written["table"].write_text(table(data) + "\n")
    return data["files"]


def write_results(results: dict[str, Any], folder: Path) -> dict[str, str]:
    """results.json, table.md and chart.png under ``folder``; returns what was written."""
    names = ("results.json", "table.md", "chart.png")
    return write_outputs(results, folder, names, markdown_table, write_chart)
