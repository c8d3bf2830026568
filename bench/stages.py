"""Per-stage cost of one request: in-process CPU and wall ms per stage, beside the live server's.

``python -m bench.stages [--repeats N] [--duration S] [--concurrency C]`` builds the bench bundle
(cached), measures every stage of the request path in a fresh subprocess (one thread, the
service's own classes and their private steps, median over N runs), then serves the bundle with
gunicorn, loads it at concurrency C and reads the live figures: the per-stage ``timing_ms`` the
service returns, the ``mms_*`` histograms of ``/metrics`` and the server's CPU per request.
It prints a markdown table and writes ``stages.json``, ``stages.md`` and ``stages.png`` under
bench/results/. ``bench.run`` runs the same measurement as one section of its results.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.workload import Workload

DEFAULT_REPEATS = 30
TOP_K = 5
# Stages whose work runs in TensorFlow's pool threads or the batcher's thread: timed with the
# process clock (nothing else of ours runs meanwhile), the rest with the calling thread's.
PROCESS_CLOCK = ("inference_b1", "inference_max", "predict_path")
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
)
FLOOR_CITED = {
    "image_scale": "uint8 input, scaling inside the graph (not measured)",
    "audio_decode": "at the floor already (libsndfile reads PCM)",
    "mixdown": "at the floor already (column adds)",
    "features": "at the floor already (float32 FFT and mel product; the issue cites 1.4 ms)",
    "tokenise": "at the floor already (regex + dict lookup)",
    "http_parse": "at the floor already (one C-level bytes.split)",
    "sniff": "at the floor already (prefix compare)",
    "inference_b1": "ONNX Runtime, in use (TensorFlow: 5.2 ms; OpenVINO 2025.4: 5.6 ms, slower)",
    "inference_max": "ONNX Runtime, in use (TensorFlow: 3.7 ms; int8 would change the outputs)",
    "postprocess": "at the floor already",
}


def _median_ms(
    fn: Callable[[], Any], repeats: int, clock: Callable[[], float], setup: Callable | None = None
) -> tuple[float, float]:
    """Median (CPU ms by ``clock``, wall ms) of ``fn(setup())`` over ``repeats`` runs, after one."""
    cpu, wall = [], []
    for i in range(repeats + 1):
        arg = setup() if setup else None
        c0, w0 = clock(), time.perf_counter()
        fn(arg) if setup else fn()
        c1, w1 = clock(), time.perf_counter()
        if i:  # the first run pays lazy imports and allocations
            cpu.append((c1 - c0) * 1000.0)
            wall.append((w1 - w0) * 1000.0)
    return statistics.median(cpu), statistics.median(wall)


def measure(bundle_dir: Path, workload: Workload, *, repeats: int = DEFAULT_REPEATS) -> dict:
    """Every stage of one request on ``workload`` through the bundle's own classes, in this thread.

    Also times ``Predictor.predict`` on the same instance (batch 1) for the sum check, and the
    floors that are one-liners. Returns ``{"stages": {key: {cpu_ms, wall_ms}}, ...}``.
    """
    import numpy as np
    import soxr
    from flask import Flask, jsonify
    from PIL import JpegImagePlugin

    from app.api.v1.parsing import parse_predict_request
    from app.model.device import configure_tensorflow
    from app.model.registry import ModelRegistry
    from app.preprocessing import audio as audio_module
    from app.preprocessing.formats import sniff
    from app.settings import load_settings

    name = bundle_dir.parent.name
    base = load_settings(environ={})
    settings = dataclasses.replace(
        base, models_dir=str(bundle_dir.parent.parent), default_model=name, models=(name,)
    )
    registry = ModelRegistry(settings, bundle_dir.parent.parent, configure_tensorflow(settings))
    try:
        predictor = registry.get(name, int(bundle_dir.name))
        bundle, compiled = predictor.bundle, predictor.compiled
        compiled.warm_up()
        pre = {spec.modality: spec.preprocessor for spec in bundle.inputs.values()}
        image_pre, audio_pre, text_pre = pre["image"], pre["audio"], pre["text"]
        body, ctype = workload.multipart()
        app = Flask(__name__)
        app.json.sort_keys = False  # as create_app sets it
        thread = time.thread_time
        timed: dict[str, tuple[float, float]] = {}

        def request_context():
            ctx = app.test_request_context("/predict", method="POST", data=body, content_type=ctype)
            ctx.push()
            return ctx

        def parse(ctx):
            from flask import request

            parse_predict_request(request, settings, predictor.part_modalities)
            ctx.pop()

        timed["http_parse"] = _median_ms(parse, repeats, thread, setup=request_context)
        timed["sniff"] = _median_ms(
            lambda: (sniff(workload.image), sniff(workload.audio)), repeats, thread
        )
        fmt = sniff(workload.image)
        timed["image_decode"] = _median_ms(
            lambda: image_pre._decode(workload.image, fmt), repeats, thread
        )
        decoded = image_pre._decode(workload.image, fmt)
        timed["image_resize"] = _median_ms(lambda: image_pre._fit(decoded), repeats, thread)
        fitted = image_pre._fit(decoded)
        timed["image_scale"] = _median_ms(lambda: image_pre._to_array(fitted), repeats, thread)

        audio_fmt = sniff(workload.audio)
        decode_all = _median_ms(
            lambda: audio_pre._decode(workload.audio, audio_fmt), repeats, thread
        )
        stereo = _read_audio(workload.audio)
        timed["mixdown"] = _median_ms(lambda: audio_module._mixdown(stereo), repeats, thread)
        # _decode reads and mixes down in one call; its read share is the whole minus the mixdown.
        timed["audio_decode"] = (
            max(0.0, decode_all[0] - timed["mixdown"][0]),
            max(0.0, decode_all[1] - timed["mixdown"][1]),
        )
        mono, rate = audio_pre._decode(workload.audio, audio_fmt)
        timed["resample"] = _median_ms(lambda: audio_pre._fit(mono, rate), repeats, thread)
        waveform = audio_pre._fit(mono, rate)
        timed["features"] = _median_ms(lambda: audio_pre.features_of(waveform), repeats, thread)
        timed["tokenise"] = _median_ms(lambda: text_pre(workload.text), repeats, thread)

        row = {spec.name: spec.preprocessor(getattr(workload, spec.modality))
               for spec in bundle.inputs.values()}  # fmt: skip
        max_batch = compiled.buckets[-1]
        batches = {size: {k: np.stack([v] * size) for k, v in row.items()}
                   for size in compiled.buckets}  # fmt: skip
        process = time.process_time
        by_batch = {
            size: _median_ms(lambda b=batch: compiled(b), max(3, repeats // size), process)
            for size, batch in batches.items()
        }
        timed["inference_b1"] = _median_ms(lambda: compiled(batches[1]), repeats, process)
        timed["inference_max"] = tuple(ms / max_batch for ms in by_batch[max_batch])
        output = {k: v[0] for k, v in compiled(batches[1]).items()}
        timed["postprocess"] = _median_ms(
            lambda: predictor._postprocess(output, TOP_K), repeats, thread
        )
        answer = {
            "request_id": "0" * 32,
            "model": {"name": bundle.name, "version": str(bundle.version)},
            "outputs": predictor._postprocess(output, TOP_K),
            "modalities": dict.fromkeys(pre, "provided"),
            "timing_ms": {"preprocess": 12.345, "queue": 0.123, "inference": 9.876, "total": 22.3},
        }
        with app.app_context():
            timed["json"] = _median_ms(lambda: jsonify(**answer), repeats, thread)

        instance = {"image": workload.image, "audio": workload.audio, "text": workload.text}
        predict = _median_ms(lambda: predictor.predict([instance], TOP_K), repeats, process)

        floors = _floors(
            image_pre, workload, mono, rate, audio_pre.sample_rate, soxr, JpegImagePlugin,
            answer, repeats,
        )  # fmt: skip
    finally:
        registry.close()
    stages = {key: {"cpu_ms": round(c, 3), "wall_ms": round(w, 3)} for key, (c, w) in timed.items()}
    return {
        "repeats": repeats,
        "max_batch": max_batch,
        "clock": {"default": "time.thread_time", "process_clock_stages": list(PROCESS_CLOCK)},
        "stages": stages,
        # Per batch, at every bucket size the service pads to: for the live mean batch size.
        "inference_per_batch": {
            str(size): {"cpu_ms": round(c, 3), "wall_ms": round(w, 3)}
            for size, (c, w) in by_batch.items()
        },
        "predict_path": {"cpu_ms": round(predict[0], 3), "wall_ms": round(predict[1], 3)},
        "floors": floors,
        "loadavg": os.getloadavg(),
    }


def _read_audio(data: bytes) -> Any:
    import soundfile as sf

    samples, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples


def _floors(
    image_pre, workload, mono, rate, target_rate, soxr, jpeg, answer, repeats
) -> dict[str, str]:
    """The floors that are one-liners, measured (thread CPU ms); the others are cited."""
    thread = time.thread_time
    floors = dict(FLOOR_CITED)
    width, height = jpeg.jpeg_factory(io.BytesIO(workload.image)).size

    def drafted(scale: int):
        image = jpeg.jpeg_factory(io.BytesIO(workload.image))
        image.draft("RGB", (width // scale, height // scale))
        image.load()
        return image

    half = _median_ms(lambda: drafted(2), repeats, thread)[0]
    quarter = _median_ms(lambda: drafted(4), repeats, thread)[0]
    floors["image_decode"] = (
        f"Pillow draft 1/2 DCT scale: {half:.2f} ms; 1/4: {quarter:.2f} ms (measured)"
    )
    half_image = drafted(2)
    fit_half = _median_ms(lambda: image_pre._fit(half_image), repeats, thread)[0]
    floors["image_resize"] = f"resize from the 1/2-scale decode: {fit_half:.2f} ms (measured)"
    parts = []
    for quality in ("MQ", "LQ"):
        cost = _median_ms(
            lambda q=quality: soxr.resample(mono, rate, target_rate, quality=q), repeats, thread
        )[0]
        parts.append(f"{quality} {cost:.2f} ms")
    floors["resample"] = f"soxr {', '.join(parts)} (measured)"
    dumps = _median_ms(lambda: json.dumps(answer, separators=(",", ":")), repeats, thread)[0]
    floors["json"] = f"json.dumps alone, no Response object: {dumps:.3f} ms (measured)"
    return floors


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

    from bench import servers

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
    rows.append(["Predictor.predict, batch 1 (for comparison)", f"{path['cpu_ms']:.2f}",
                 f"{path['wall_ms']:.2f}", "", "in-process, no HTTP"])  # fmt: skip
    live = section.get("live") or {}
    server_cpu = live.get("server_cpu_ms_per_request")
    mean_batch = (live.get("metrics_means") or {}).get("mms_batch_size", {}).get("mean")
    if mean_batch and inproc.get("inference_per_batch"):
        # The live batches were smaller than the max: the sum again with inference per sample at
        # the live mean batch size (per-batch cost interpolated between the bucket sizes).
        sample_cpu = _per_sample_at(inproc["inference_per_batch"], mean_batch)
        total_cpu += sample_cpu - stages["inference_max"]["cpu_ms"]
        label = f"**in-process sum, inference at the live mean batch {mean_batch:.1f}**"
        note = f"inference {sample_cpu:.2f} ms/sample (interpolated; bucket padding not counted)"
        rows.append([label, f"{total_cpu:.2f}", "", "", note])
    if server_cpu is not None:
        overhead = server_cpu - total_cpu
        rows.append([f"**live server CPU per request** (c={live['concurrency']})",
                     f"{server_cpu:.2f}", "", "", "gunicorn worker, /proc counters"])  # fmt: skip
        rows.append(["HTTP/gunicorn/threading/batching overhead (live - sum)", f"{overhead:.2f}",
                     "", f"{100.0 * overhead / server_cpu:.1f}% of live", ""])  # fmt: skip
    return rows


def _per_sample_at(per_batch: dict[str, dict[str, float]], rows: float) -> float:
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
            values[-1] - stages["inference_max"]["cpu_ms"] + _per_sample_at(per_batch, mean_batch)
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
    folder.mkdir(parents=True, exist_ok=True)
    files = {"json": folder / "stages.json", "table": folder / "stages.md"}
    if write_chart(section, folder / "stages.png"):
        files["chart"] = folder / "stages.png"
    section["files"] = {key: str(path) for key, path in files.items()}
    files["json"].write_text(json.dumps(section, indent=2) + "\n")
    files["table"].write_text(markdown(section) + "\n")
    return section["files"]


def measure_in_subprocess(
    bundle_dir: Path, workload_dir: Path, out: Path, log_path: Path, repeats: int
) -> dict:
    """``measure`` in a fresh process with the servers' thread settings (TensorFlow stays out)."""
    from bench.run import PROCESS_ENV
    from bench.servers import ROOT, tail

    command = [sys.executable, "-m", "bench.stages", "--in-process", str(bundle_dir),
               str(workload_dir), "--repeats", str(repeats), "--out", str(out)]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        code = subprocess.run(
            command, cwd=ROOT, env={**os.environ, **PROCESS_ENV}, stdout=log, stderr=log
        ).returncode
    if code:
        raise RuntimeError(f"bench.stages --in-process failed ({code}):\n{tail(log_path)}")
    return json.loads(out.read_text())


def live(bundle_models_dir: Path, name: str, body: bytes, ctype: str, args) -> dict:
    """Serve the bundle with gunicorn, load it at ``args.concurrency``, read the live figures."""
    from bench import servers
    from bench.loadgen import Target, run_level
    from bench.run import PROCESS_ENV

    env = {**PROCESS_ENV, "MMS_MODELS_DIR": str(bundle_models_dir), "MMS_DEFAULT_MODEL": name}
    server = servers.start_gunicorn(
        "stages", "wsgi:app", env, args.cache_dir / "logs" / "stages.log"
    )
    try:
        servers.wait_until(server, lambda port: servers.request(port, "GET", "/readyz")[0] == 200)
        target = Target(servers.HOST, server.port, "/predict", body, ctype, parse_timing=True)
        level = run_level(target, args.concurrency, args.duration, args.warmup,
                          servers.cpu_counters(server))  # fmt: skip
        rps = level["throughput_rps"]
        level["server_cpu_ms_per_request"] = (
            round(1000.0 * level["cpu_cores"]["server"] / rps, 2) if rps else None
        )
        return live_figures(level, scrape_stage_metrics(server.port))
    finally:
        servers.stop(server)


def main(argv: list[str] | None = None) -> int:
    """Command line: the whole measurement, or (``--in-process``) only the in-process part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-process", nargs=2, type=Path, metavar=("BUNDLE_DIR", "WORKLOAD_DIR"))
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--out", type=Path, help="--in-process: write the JSON here")
    parser.add_argument("--duration", type=float, default=15.0, help="live load seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).parent / ".cache")
    parser.add_argument("--results-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    if args.in_process:
        bundle_dir, workload_dir = args.in_process
        result = measure(bundle_dir, Workload.load(workload_dir), repeats=args.repeats)
        text = json.dumps(result, indent=2)
        args.out.write_text(text + "\n") if args.out else print(text)
        return 0
    from bench.run import BUNDLE_NAME, build_bundle
    from bench.workload import make_workload

    workload = make_workload()
    workload_dir = args.cache_dir / "workload"
    workload.save(workload_dir)
    models_dir = args.cache_dir / "models"
    bundle_dir = models_dir / BUNDLE_NAME / "1"
    if not (bundle_dir / "model.keras").is_file():
        build_bundle(models_dir, args.cache_dir / "logs" / "build.log")
    section = {"in_process": measure_in_subprocess(
        bundle_dir, workload_dir, args.cache_dir / "stages_inprocess.json",
        args.cache_dir / "logs" / "stages_inprocess.log", args.repeats,
    )}  # fmt: skip
    body, ctype = workload.multipart()
    section["live"] = live(models_dir, BUNDLE_NAME, body, ctype, args)
    files = write(section, args.results_dir)
    print(markdown(section))
    print(f"\nresults: {', '.join(files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
