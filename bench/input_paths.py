"""What each way of bringing a model costs per request, beside the bench bundle's own path.

``python -m bench.input_paths [--repeats N]`` times, in this process and one thread (median over N
runs after one), on the bench workload: text through the bench bundle's word vocabulary, a
Hugging Face WordPiece ``tokenizer.json`` (all three tensors) and ``tokenizer: raw``; audio as
MFCC features and as the waveform itself; and the bench model's inference, saved as
``model.keras`` and as a SavedModel from the same weights, on the runtime each gets by default
and on TensorFlow. Writes ``bench/results/input_paths.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.timing import median_ms
from bench.workload import make_workload

RESULTS = Path(__file__).parent / "results"
DEFAULT_REPEATS = 50
TEXT_LENGTH = 64


def measure(repeats: int) -> dict[str, Any]:
    """Every row's (CPU ms, wall ms), and what ran each model."""
    import numpy as np

    from app.model.backend import build_inference
    from app.model.bundle import load_bundle
    from app.model.device import configure_tensorflow
    from app.preprocessing import make_preprocessor
    from app.settings import load_settings
    from bench import build_bench_bundle as bench_bundle

    workload = make_workload()
    settings = load_settings(environ={})
    device = configure_tensorflow(settings)
    thread, process = time.thread_time, time.process_time
    rows: dict[str, tuple[float, float]] = {}
    runtimes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keras_dir = bench_bundle.write_bundle(root)
        _write_tokenizer(keras_dir / "tokenizer.json", workload.text)
        text = workload.text
        make = dict(bundle_dir=keras_dir, shape=(TEXT_LENGTH,), dtype="int32")
        word = make_preprocessor("text", dict(bench_bundle.TEXT_PARAMS), **make)
        hf = make_preprocessor("text", {"tokenizer": "hf"}, **make)
        raw = make_preprocessor(
            "text", {"tokenizer": "raw"}, bundle_dir=keras_dir, shape=(), dtype="string"
        )
        rows["text: word vocabulary (64 ids)"] = median_ms(lambda: word(text), repeats, thread)
        rows["text: hf WordPiece tokenizer.json (3 tensors of 64)"] = median_ms(
            lambda: hf(text), repeats, thread
        )
        rows["text: raw (the string itself)"] = median_ms(lambda: raw(text), repeats, thread)

        audio_params = dict(bench_bundle.AUDIO_PARAMS)
        mfcc = make_preprocessor(
            "audio",
            audio_params,
            bundle_dir=keras_dir,
            shape=bench_bundle.AUDIO_SHAPE,
            dtype="float32",
        )
        samples = round(audio_params["sample_rate"] * audio_params["duration_s"])
        waveform = make_preprocessor(
            "audio",
            {"features": "waveform", "sample_rate": audio_params["sample_rate"]},
            bundle_dir=keras_dir,
            shape=(samples,),
            dtype="float32",
        )
        audio = workload.audio
        rows["audio: MFCC (decode, resample, features)"] = median_ms(
            lambda: mfcc(audio), repeats, thread
        )
        rows["audio: waveform (decode, resample, pad)"] = median_ms(
            lambda: waveform(audio), repeats, thread
        )

        saved_dir = root / "bench_saved" / "1"
        saved_dir.mkdir(parents=True)
        model = bench_bundle.build_model()
        model.export(str(saved_dir / "saved_model"), format="tf_saved_model", verbose=False)
        for name in ("labels.txt", "vocab.txt"):
            (saved_dir / name).write_bytes((keras_dir / name).read_bytes())
        # The signature names a single unnamed output output_0: the bundle says so.
        spec = bench_bundle.bundle_yaml()
        spec["outputs"] = {"output_0": spec["outputs"]["label"]}
        (saved_dir / "bundle.yaml").write_text(yaml.safe_dump(spec))
        for label, path in (("model.keras", keras_dir), ("SavedModel", saved_dir)):
            bundle = load_bundle(path, device=device.tf_name)
            for runtime in ("auto", "tensorflow"):
                chosen = dataclasses.replace(
                    settings, inference_runtime=runtime, onnx_cache_dir=str(root / "onnx")
                )
                inference = build_inference(bundle, chosen, device, max_batch_size=16)
                compiled = inference.model
                compiled.warm_up()
                one = {k: np.zeros((1, *s.shape), s.dtype) for k, s in bundle.inputs.items()}
                many = {k: np.repeat(v, 16, axis=0) for k, v in one.items()}
                key = f"{label} on {inference.runtime}"
                runtimes[f"{label}, inference_runtime {runtime}"] = inference.runtime
                rows[f"inference, batch 1: {key}"] = median_ms(
                    lambda c=compiled, b=one: c(b), repeats, process
                )
                per_batch = median_ms(lambda c=compiled, b=many: c(b), repeats // 4, process)
                rows[f"inference per sample at batch 16: {key}"] = (
                    per_batch[0] / 16,
                    per_batch[1] / 16,
                )
    return {
        "repeats": repeats,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "runtimes": runtimes,
        "rows": {k: {"cpu_ms": round(c, 3), "wall_ms": round(w, 3)} for k, (c, w) in rows.items()},
    }


def _write_tokenizer(path: Path, text: str) -> None:
    """A BERT-style WordPiece tokenizer.json trained on the bench vocabulary and text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing

    from bench.build_bench_bundle import vocabulary

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=4000, special_tokens=specials)
    tokenizer.train_from_iterator([*vocabulary(), text], trainer)
    tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    tokenizer.save(str(path))


def markdown(result: dict[str, Any]) -> str:
    """The rows as a table, with what ran each model."""
    lines = [
        f"Per request, in-process, one thread; median of {result['repeats']} runs "
        f"({result['machine']}, {result['date']}).",
        "",
        "| stage | CPU ms | wall ms |",
        "| --- | ---: | ---: |",
    ]
    for name, row in result["rows"].items():
        lines.append(f"| {name} | {row['cpu_ms']:.3f} | {row['wall_ms']:.3f} |")
    lines += [
        "",
        "Runtime chosen: " + "; ".join(f"{k}: {v}" for k, v in result["runtimes"].items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: measure, print the table, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    args = parser.parse_args(argv)
    result = measure(args.repeats)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "input_paths.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / "input_paths.md").write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
