"""Train the reference digits bundle on CPU from the data ``make_digits_data`` built.

Usage: ``.venv/bin/python -m training.train_digits --data build/digits --out models/digits/1``

Every feature is computed by the service's own preprocessors (``app.preprocessing``) from the files
a client would upload. Each training example pairs a random image, clip and text of the same digit;
modality dropout then keeps a random non-empty subset of the three and sets the others to exactly
the zeros the service feeds for an absent modality. Seeded; about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from training import digits_card
from training.digits_audio import TEST_VOICES
from training.digits_features import INPUTS, OUTPUT, build_vocabulary, featurise, write_bundle_files
from training.evaluate_digits import (
    DEFAULT_SAMPLES,
    METRICS_FILE,
    SUBSETS,
    Pools,
    accuracy,
    evaluate,
    evaluate_samples,
)
from training.make_digits_data import MANIFEST, read_manifest

# How often each subset of modalities is kept, in SUBSETS order: single modalities are the hardest.
SUBSET_WEIGHTS = (0.15, 0.15, 0.15, 0.1, 0.1, 0.1, 0.25)
HELD_OUT_COMBOS = 3000  # random same-digit pairings scored per multi-modality subset
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


def epoch_arrays(
    pools: dict[str, tuple[np.ndarray, np.ndarray]], n: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``n`` random same-digit pairings with modality dropout; returns (inputs, digits)."""
    digits = rng.integers(0, 10, size=n)
    subsets = rng.choice(len(SUBSETS), size=n, p=SUBSET_WEIGHTS)
    batch = {}
    for name, (features, labels) in pools.items():
        picks = np.empty(n, dtype=np.int64)
        for digit in range(10):
            where = np.flatnonzero(digits == digit)
            picks[where] = rng.choice(np.flatnonzero(labels == digit), size=where.size)
        keep = np.array([name in subset for subset in SUBSETS])[subsets]
        chosen = features[picks]
        chosen[~keep] = 0  # exactly what the service sends for a missing modality
        batch[name] = chosen
    return batch, digits


def source_group(row: dict[str, str]) -> str:
    """Which kind of held-out source a test row comes from, for the per-source breakdown."""
    source = row["source"]
    if row["modality"] == "image":
        return "image/held_out_writers" if source == "sklearn" else "image/held_out_fonts"
    if row["modality"] == "audio":
        voice = source.removeprefix("voice:").split("+")[0]
        return "audio/held_out_voice" if voice in TEST_VOICES else "audio/held_out_variant"
    return "text/misspelled" if source.endswith("typo") else "text/spelled_right"


def by_source(
    model: Any, rows: list[dict[str, str]], pools: Pools, shapes: dict[str, Any]
) -> dict[str, dict[str, float | int]]:
    """Single-modality held-out accuracy per kind of source."""
    results = {}
    for name, spec in INPUTS.items():
        groups = np.array(
            [
                source_group(r)
                for r in rows
                if (r["modality"], r["split"]) == (spec["modality"], "test")
            ]
        )
        for group in sorted(set(groups)):
            picks = np.flatnonzero(groups == group)
            acc = accuracy(model, pools, shapes, {name: picks}, pools[name][1][picks])
            results[group] = {"accuracy": round(acc, 4), "n": len(picks)}
    return results


def train(pools: dict[str, tuple[np.ndarray, np.ndarray]], vocab_size: int, args: Any) -> Any:
    """Build and fit the model; returns it."""
    import keras

    from training.digits_model import build_model

    model = build_model(vocab_size)
    steps = args.epochs * (args.examples // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss={OUTPUT: "sparse_categorical_crossentropy"},
        metrics={OUTPUT: ["accuracy"]},
    )
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        started = time.monotonic()
        inputs, digits = epoch_arrays(pools, args.examples, rng)
        history = model.fit(
            inputs, {OUTPUT: digits}, batch_size=BATCH_SIZE, epochs=1, verbose=0, shuffle=False
        )
        loss, acc = history.history["loss"][-1], history.history["accuracy"][-1]
        took = time.monotonic() - started
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4f} acc {acc:.4f} ({took:.0f} s)",
              flush=True)  # fmt: skip
    return model


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="make_digits_data's OUT_DIR")
    parser.add_argument("--out", type=Path, required=True, help="the bundle folder to write")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--examples", type=int, default=16_000, help="pairings per epoch")
    args = parser.parse_args()
    started = time.monotonic()
    rows = read_manifest(args.data / MANIFEST)
    texts = [r["item"] for r in rows if r["modality"] == "text" and r["split"] == "train"]
    vocabulary = build_vocabulary(texts)
    write_bundle_files(args.out, vocabulary)
    features = featurise(rows, args.data, args.out, workers=os.cpu_count() or 1)
    featurised = time.monotonic()

    import keras  # only now: TensorFlow must not be loaded in the forked feature workers
    import tensorflow as tf

    from training.digits_model import build_model

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    model = train({n: features[(n, "train")] for n in INPUTS}, len(vocabulary), args)
    trained = time.monotonic()
    # Saved from an uncompiled copy, so the file holds no optimizer state (a third of the size).
    export = build_model(len(vocabulary))
    export.set_weights(model.get_weights())
    export.save(args.out / "model.keras")

    shapes = {name: (spec["shape"], spec["dtype"]) for name, spec in INPUTS.items()}
    test_pools = {n: features[(n, "test")] for n in INPUTS}
    held_out = evaluate(model, test_pools, shapes, combos=HELD_OUT_COMBOS, seed=args.seed)
    breakdown = by_source(model, rows, test_pools, shapes)
    samples = evaluate_samples(args.out, args.samples)
    info = {
        "seed": args.seed,
        "epochs": args.epochs,
        "examples_per_epoch": args.examples,
        "counts": {f"{n}/{s}": len(features[(n, s)][1]) for (n, s) in features},
        "vocabulary_size": len(vocabulary),
        "params": model.count_params(),
        "featurise_s": round(featurised - started),
        "train_s": round(trained - featurised),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, keras {keras.__version__}, "
        f"tensorflow {tf.__version__}",
    }
    metrics = {
        "held_out": held_out,
        "held_out_by_source": breakdown,
        "samples": samples,
        "training": info,
    }
    (args.out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    digits_card.write(args.out, metrics)
    for key, result in held_out.items():
        print(f"held-out {key:20s} {result['accuracy']:.4f} (n={result['n']}); "
              f"samples {samples[key]['accuracy']:.4f} (n={samples[key]['n']})")  # fmt: skip
    for key, result in breakdown.items():
        print(f"held-out {key:28s} {result['accuracy']:.4f} (n={result['n']})")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
