"""Per-stage cost of one request: in-process CPU and wall ms per stage, beside the live server's.

``python -m bench.stages [--repeats N] [--duration S] [--concurrency C]`` builds the bench bundle
(cached), measures every stage of the request path in a fresh subprocess (one thread, the
service's own classes and the public steps their ``__call__`` runs, median over N runs), then
serves the bundle with gunicorn, loads it at concurrency C and reads the live figures
(``bench.live``): the per-stage ``timing_ms`` the service returns, the ``mms_*`` histograms of
``/metrics`` and the server's CPU per request. It prints a markdown table and writes
``stages.json``, ``stages.md`` and ``stages.png`` under bench/results/ (``bench.stages_report``).
``bench.run`` runs the same measurement as one section of its results.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.bundle import (
    BUNDLE_NAME,
    DEFAULT_CACHE,
    DEFAULT_RESULTS,
    bundle_version_dir,
    ensure_bundle,
    inherited_env,
    run_logged,
)
from bench.timing import median_ms
from bench.workload import Workload

DEFAULT_REPEATS = 30
TOP_K = 5
# Stages whose work runs in TensorFlow's pool threads or the batcher's thread: timed with the
# process clock (nothing else of ours runs meanwhile), the rest with the calling thread's.
PROCESS_CLOCK = ("inference_b1", "inference_max", "predict_path")
# The reference bundle's number-word table (24 languages), timed on the workload's text.
NUMBER_WORDS = Path(__file__).resolve().parent.parent / "models" / "digits" / "1" / "numbers.tsv"
FLOOR_CITED = {
    "image_scale": "uint8 input, scaling inside the graph (not measured)",
    "audio_decode": "at the floor already (libsndfile reads PCM)",
    "mixdown": "at the floor already (column adds)",
    "features": "at the floor already (float32 FFT and mel product; 1.4 ms before them)",
    "tokenise": "at the floor already (regex + dict lookup)",
    "http_parse": "at the floor already (one C-level bytes.split)",
    "sniff": "at the floor already (prefix compare)",
    "inference_b1": "ONNX Runtime, in use (TensorFlow: 5.2 ms; OpenVINO 2025.4: 5.6 ms, slower)",
    "inference_max": "ONNX Runtime, in use (TensorFlow: 3.7 ms; int8 would change the outputs)",
    "postprocess": "at the floor already",
}
# The options rows: off in this bundle, timed so a bundle that declares them knows their cost.
OPTION_NOTE = "off in this bundle; the digits bundle declares it (not summed)"


def measure(bundle_dir: Path, workload: Workload, *, repeats: int = DEFAULT_REPEATS) -> dict:
    """Every stage of one request on ``workload`` through the bundle's own classes, in this thread.

    Also times ``Predictor.predict`` on the same instance (batch 1) for the sum check, and the
    floors that are one-liners. Returns ``{"stages": {key: {cpu_ms, wall_ms}}, ...}``.
    """
    import numpy as np
    from flask import Flask, jsonify

    from app.api.v1.parsing import parse_predict_request
    from app.model.device import configure_tensorflow
    from app.model.registry import ModelRegistry
    from app.preprocessing.audio_clip import mixdown
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

        timed["http_parse"] = median_ms(parse, repeats, thread, setup=request_context)
        timed["sniff"] = median_ms(
            lambda: (sniff(workload.image), sniff(workload.audio)), repeats, thread
        )
        fmt = sniff(workload.image)
        timed["image_decode"] = median_ms(
            lambda: image_pre.decode(workload.image, fmt), repeats, thread
        )
        decoded = image_pre.decode(workload.image, fmt)
        timed["image_resize"] = median_ms(lambda: image_pre.fit(decoded), repeats, thread)
        fitted = image_pre.fit(decoded)
        timed["image_scale"] = median_ms(lambda: image_pre.to_array(fitted), repeats, thread)

        audio_fmt = sniff(workload.audio)
        decode_all = median_ms(lambda: audio_pre.decode(workload.audio, audio_fmt), repeats, thread)
        stereo = _read_audio(workload.audio)
        timed["mixdown"] = median_ms(lambda: mixdown(stereo), repeats, thread)
        # decode reads and mixes down in one call; its read share is the whole minus the mixdown.
        timed["audio_decode"] = (
            max(0.0, decode_all[0] - timed["mixdown"][0]),
            max(0.0, decode_all[1] - timed["mixdown"][1]),
        )
        mono, rate = audio_pre.decode(workload.audio, audio_fmt)
        timed["resample"] = median_ms(lambda: audio_pre.fit(mono, rate), repeats, thread)
        waveform = audio_pre.fit(mono, rate)
        timed["features"] = median_ms(lambda: audio_pre.features_of(waveform), repeats, thread)
        timed["tokenise"] = median_ms(lambda: text_pre(workload.text), repeats, thread)
        options = _options(bundle, decoded, workload.text, repeats)
        timed.update(options)

        row = {
            spec.name: spec.preprocessor(getattr(workload, spec.modality))
            for spec in bundle.inputs.values()
        }
        max_batch = compiled.buckets[-1]
        batches = {
            size: {k: np.stack([v] * size) for k, v in row.items()} for size in compiled.buckets
        }
        process = time.process_time
        by_batch = {
            size: median_ms(lambda b=batch: compiled(b), max(3, repeats // size), process)
            for size, batch in batches.items()
        }
        timed["inference_b1"] = median_ms(lambda: compiled(batches[1]), repeats, process)
        timed["inference_max"] = tuple(ms / max_batch for ms in by_batch[max_batch])
        output = {k: v[0] for k, v in compiled(batches[1]).items()}
        timed["postprocess"] = median_ms(
            lambda: predictor.postprocess(output, TOP_K), repeats, thread
        )
        answer = {
            "request_id": "0" * 32,
            "model": {"name": bundle.name, "version": str(bundle.version)},
            "outputs": predictor.postprocess(output, TOP_K),
            "modalities": dict.fromkeys(pre, "provided"),
            "timing_ms": {"preprocess": 12.345, "queue": 0.123, "inference": 9.876, "total": 22.3},
        }
        with app.app_context():
            timed["json"] = median_ms(lambda: jsonify(**answer), repeats, thread)

        instance = {"image": workload.image, "audio": workload.audio, "text": workload.text}
        predict = median_ms(lambda: predictor.predict([instance], TOP_K), repeats, process)

        floors = _floors(image_pre, workload, mono, rate, audio_pre.sample_rate, answer, repeats)
        floors.update(dict.fromkeys(options, OPTION_NOTE))
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


def _options(bundle, decoded, text: str, repeats: int) -> dict:
    """The bundle options this bundle leaves off, on the same photo and text: what each costs
    per request where a bundle declares it (the digits bundle does)."""
    import yaml

    from app.preprocessing import PREPROCESSORS
    from app.preprocessing.number_words import NumberWords

    thread = time.thread_time
    declared = yaml.safe_load((bundle.path / "bundle.yaml").read_text(encoding="utf-8"))["inputs"]
    name, spec = next((n, s) for n, s in bundle.inputs.items() if s.modality == "image")
    ink = {"polarity": "auto", "flatten": True}
    variants = {
        "option_polarity_flatten": ink,
        "option_crop_content": {**ink, "crop": "content"},
        "option_crop_object": {**ink, "crop": "object"},
        "option_remove_frames": {**ink, "crop": "object", "remove_frames": True},
    }
    out = {}
    for key, params in variants.items():
        variant = PREPROCESSORS["image"](
            {**declared[name].get("params", {}), **params}, bundle_dir=bundle.path,
            shape=spec.shape, dtype=str(spec.dtype),
        )  # fmt: skip
        out[key] = median_ms(lambda v=variant: v.find_content(decoded), repeats, thread)
    table = NumberWords.load(NUMBER_WORDS, NUMBER_WORDS.name)
    out["option_number_words"] = median_ms(lambda: table.replace(text), repeats, thread)
    return out


def _read_audio(data: bytes) -> Any:
    import soundfile as sf

    samples, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples


def _floors(image_pre, workload, mono, rate, target_rate, answer, repeats) -> dict[str, str]:
    """The floors that are one-liners, measured (thread CPU ms); the others are cited."""
    import soxr
    from PIL import JpegImagePlugin as jpeg

    thread = time.thread_time
    floors = dict(FLOOR_CITED)
    width, height = jpeg.jpeg_factory(io.BytesIO(workload.image)).size

    def drafted(scale: int):
        image = jpeg.jpeg_factory(io.BytesIO(workload.image))
        image.draft("RGB", (width // scale, height // scale))
        image.load()
        return image

    half = median_ms(lambda: drafted(2), repeats, thread)[0]
    quarter = median_ms(lambda: drafted(4), repeats, thread)[0]
    floors["image_decode"] = (
        f"Pillow draft 1/2 DCT scale: {half:.2f} ms; 1/4: {quarter:.2f} ms (measured)"
    )
    half_image = drafted(2)
    fit_half = median_ms(lambda: image_pre.fit(half_image), repeats, thread)[0]
    floors["image_resize"] = f"resize from the 1/2-scale decode: {fit_half:.2f} ms (measured)"
    parts = []
    for quality in ("MQ", "LQ"):
        cost = median_ms(
            lambda q=quality: soxr.resample(mono, rate, target_rate, quality=q), repeats, thread
        )[0]
        parts.append(f"{quality} {cost:.2f} ms")
    floors["resample"] = f"soxr {', '.join(parts)} (measured)"
    dumps = median_ms(lambda: json.dumps(answer, separators=(",", ":")), repeats, thread)[0]
    floors["json"] = f"json.dumps alone, no Response object: {dumps:.3f} ms (measured)"
    return floors


def measure_in_subprocess(
    bundle_dir: Path, workload_dir: Path, out: Path, log_path: Path, repeats: int
) -> dict:
    """``measure`` in a fresh process with the servers' thread settings (TensorFlow stays out)."""
    command = [sys.executable, "-m", "bench.stages", "--in-process", str(bundle_dir)]
    command += [str(workload_dir), "--repeats", str(repeats), "--out", str(out)]
    run_logged(command, log_path, env=inherited_env())
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    """Command line: the whole measurement, or (``--in-process``) only the in-process part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-process", nargs=2, type=Path, metavar=("BUNDLE_DIR", "WORKLOAD_DIR"))
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--out", type=Path, help="--in-process: write the JSON here")
    parser.add_argument("--duration", type=float, default=15.0, help="live load seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    if args.in_process:
        bundle, workload_dir = args.in_process
        result = measure(bundle, Workload.load(workload_dir), repeats=args.repeats)
        text = json.dumps(result, indent=2)
        args.out.write_text(text + "\n") if args.out else print(text)
        return 0
    from bench import live, stages_report
    from bench.workload import make_workload

    workload = make_workload()
    workload_dir = args.cache_dir / "workload"
    workload.save(workload_dir)
    models_dir = args.cache_dir / "models"
    ensure_bundle(models_dir, args.cache_dir / "logs" / "build.log")
    in_process = measure_in_subprocess(
        bundle_version_dir(models_dir),
        workload_dir,
        args.cache_dir / "stages_inprocess.json",
        args.cache_dir / "logs" / "stages_inprocess.log",
        args.repeats,
    )
    body, ctype = workload.multipart()
    section = {
        "in_process": in_process,
        "live": live.serve_and_measure(models_dir, BUNDLE_NAME, body, ctype, args),
    }
    files = stages_report.write(section, args.results_dir)
    print(stages_report.markdown(section))
    print(f"\nresults: {', '.join(files.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
