"""The per-stage cost table and chart (``bench.stages``' results): rendering only.

``write`` puts ``stages.json``, ``stages.md`` and ``stages.png`` in a folder; ``markdown`` is the
table ``bench.stages`` and ``bench.run`` print.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import write_outputs

# (key, label) in request order. Rows marked False are shown but left out of the per-request sum
# (batch 1 is the idle case; the sum uses the per-sample cost at the max batch, as under load).
STAGES: tuple[tuple[str, str, bool], ...] = (
    ("http_parse", "HTTP parse (multipart split + instance)", True),
    ("sniff", "sniff (image + audio)", True),
    ("image_decode", "image decode (JPEG, jpeg_draft as configured)", True),
    ("image_resize", "image resize (crop + bilinear to 224x224)", True),
    ("image_scale", "image to float array + scale", True),
    ("audio_decode", "audio decode (libsndfile, checks)", True),
    ("mixdown", "audio mixdown (stereo to mono)", True),
    ("resample", "audio resample 44.1 to 16 kHz (soxr HQ) + pad", True),
    ("features", "audio features (log-mel + MFCC, normalise)", True),
    ("tokenise", "text tokenise", True),
    ("inference_b1", "inference, batch 1 (per sample = per batch)", False),
    ("inference_max", "inference per sample at max batch", True),
    ("postprocess", "postprocess (top-k labels)", True),
    ("json", "JSON response (Flask jsonify)", True),
    # Options this bundle leaves off, on the same photo and text (each row is the whole step).
    ("option_polarity_flatten", "option: image polarity auto + flatten (no crop)", False),
    ("option_crop_content", "option: ... + crop content (all the ink)", False),
    ("option_crop_object", "option: ... + crop object (the glyph-sized object)", False),
    ("option_remove_frames", "option: ... + crop object + remove_frames", False),
    ("option_number_words", "option: text number_words (24-language table)", False),
)


def table_rows(section: dict) -> list[list[str]]:
    """Stage rows, the in-process sum, the live CPU per request and the overhead between them."""
    inproc = section["in_process"]
    stages, floors = inproc["stages"], inproc["floors"]
    total_cpu = sum(stages[k]["cpu_ms"] for k, _, counted in STAGES if counted and k in stages)
    total_wall = sum(stages[k]["wall_ms"] for k, _, counted in STAGES if counted and k in stages)
    rows = []
    for key, label, counted in STAGES:
        if key not in stages:
            continue
        cpu, wall = stages[key]["cpu_ms"], stages[key]["wall_ms"]
        per_batch = inproc.get("inference_per_batch", {}).get(str(inproc["max_batch"]))
        if key == "inference_max" and per_batch:
            label = f"{label} {inproc['max_batch']} (per batch {per_batch['cpu_ms']:.1f} ms)"
        share = f"{100.0 * cpu / total_cpu:.1f}%" if counted and total_cpu else "(not summed)"
        rows.append([label, f"{cpu:.2f}", f"{wall:.2f}", share, floors.get(key, "")])
    rows.append(["**in-process sum**", f"{total_cpu:.2f}", f"{total_wall:.2f}", "100%", ""])
    path = inproc["predict_path"]
    label = "Predictor.predict, batch 1 (for comparison)"
    rows.append(
        [label, f"{path['cpu_ms']:.2f}", f"{path['wall_ms']:.2f}", "", "in-process, no HTTP"]
    )
    live = section.get("live") or {}
    server_cpu = live.get("server_cpu_ms_per_request")
    mean_batch = (live.get("metrics_means") or {}).get("mms_batch_size", {}).get("mean")
    if mean_batch and inproc.get("inference_per_batch"):
        # The live batches were smaller than the max: the sum again with inference per sample at
        # the live mean batch size (per-batch cost interpolated between the bucket sizes).
        sample_cpu = per_sample_at(inproc["inference_per_batch"], mean_batch)
        total_cpu += sample_cpu - stages["inference_max"]["cpu_ms"]
        label = f"**in-process sum, inference at the live mean batch {mean_batch:.1f}**"
        note = f"inference {sample_cpu:.2f} ms/sample (interpolated; bucket padding not counted)"
        rows.append([label, f"{total_cpu:.2f}", "", "", note])
    if server_cpu is not None:
        overhead = server_cpu - total_cpu
        label = f"**live server CPU per request** (c={live['concurrency']})"
        rows.append([label, f"{server_cpu:.2f}", "", "", "gunicorn worker, /proc counters"])
        label = "HTTP/gunicorn/threading/batching overhead (live - sum)"
        share = f"{100.0 * overhead / server_cpu:.1f}% of live"
        rows.append([label, f"{overhead:.2f}", "", share, ""])
    return rows


def per_sample_at(per_batch: dict[str, dict[str, float]], rows: float) -> float:
    """CPU ms per sample of a batch of ``rows`` (may be fractional), from the bucket costs."""
    import numpy as np

    sizes = sorted(int(size) for size in per_batch)
    costs = [per_batch[str(size)]["cpu_ms"] for size in sizes]
    return float(np.interp(rows, sizes, costs)) / rows


def markdown(section: dict) -> str:
    """The stage table and the live server's own per-stage figures, as markdown."""
    head = ["stage", "CPU ms", "wall ms", "share of sum", "floor (cheapest known way, cost)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(section)]
    inproc = section["in_process"]
    lines.append("")
    lines.append(
        f"- In-process: one thread, median of {inproc['repeats']} runs, max batch "
        f"{inproc['max_batch']}; inference and Predictor.predict timed with the process clock "
        f"(TensorFlow's pool threads), the rest with time.thread_time. Load average at the time: "
        f"{', '.join(f'{x:.2f}' for x in inproc['loadavg'])}."
    )
    live = section.get("live")
    if live:
        timing = ", ".join(f"{k} {v}" for k, v in live["timing_ms"].items())
        lines.append(
            f"- Live (c={live['concurrency']}, {live['throughput_rps']} req/s): the service's "
            f"timing_ms means: {timing or 'none'}."
        )
        metrics = "; ".join(
            f"{key.removeprefix('mms_')} {value['mean']}"
            for key, value in live["metrics_means"].items()
        )
        where = "over the whole run (ms; batch size in rows)"
        lines.append(f"- Live /metrics means, {where}: {metrics or 'none'}.")
    return "\n".join(lines)


def write_chart(section: dict, path: Path) -> bool:
    """Horizontal bars of CPU ms per stage (in-process) and the live CPU per request."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    stages = section["in_process"]["stages"]
    labels = [label for key, label, counted in STAGES if counted and key in stages]
    values = [stages[key]["cpu_ms"] for key, _, counted in STAGES if counted and key in stages]
    colours = ["tab:blue"] * len(values)
    labels.append("in-process sum")
    values.append(sum(values[:]))
    colours.append("tab:green")
    live = section.get("live") or {}
    mean_batch = (live.get("metrics_means") or {}).get("mms_batch_size", {}).get("mean")
    per_batch = section["in_process"].get("inference_per_batch")
    if mean_batch and per_batch:
        labels.append(f"sum at live batch {mean_batch:.1f}")
        values.append(
            values[-1] - stages["inference_max"]["cpu_ms"] + per_sample_at(per_batch, mean_batch)
        )
        colours.append("tab:olive")
    server_cpu = live.get("server_cpu_ms_per_request")
    if server_cpu is not None:
        labels.append("live server CPU / request")
        values.append(server_cpu)
        colours.append("tab:orange")
    fig, axis = plt.subplots(figsize=(9, 0.38 * len(values) + 1.2))
    positions = range(len(values))[::-1]
    axis.barh(list(positions), values, color=colours)
    axis.set_yticks(list(positions), labels, fontsize=8)
    for y, value in zip(positions, values, strict=True):
        axis.text(value, y, f" {value:.2f}", va="center", fontsize=7)
    axis.set(xlabel="CPU ms per request", title="where a request's CPU goes (bench workload)")
    axis.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(section: dict, folder: Path) -> dict[str, str]:
    """stages.json, stages.md and stages.png under ``folder``; returns what was written."""
    names = ("stages.json", "stages.md", "stages.png")
    return write_outputs(section, folder, names, markdown, write_chart)
