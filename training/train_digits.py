"""Train the reference digits bundle on CPU from the data ``make_digits_data`` built.

Usage: ``.venv/bin/python -m training.train_digits --data build/digits --out models/digits/1``
(``--model models/digits/1/model.keras``: no training; that model's weights, with its vocabulary,
scored and calibrated on this data through today's preprocessing, as a fresh bundle;
``--start-from models/digits/1/model.keras --keep text``: train on from those weights, the text
tower kept as it is).

Every feature is computed by the service's own preprocessors (``app.preprocessing``) from the files
a client would upload. Each training example pairs a random image, clip and text of the same digit;
modality dropout then keeps a random non-empty subset of the three and sets the others to exactly
the zeros the service feeds for an absent modality, and corruption swaps one kept input of some
multi-input examples for an item with no digit in it, so the fused head learns to trust the clear
part (a few examples hold no digit at all, with a uniform target). The audio and image towers are
trained alone first (speaking rate and SpecAugment on the log-mel frames, perspective on the
images), then kept fixed. A temperature fitted on the validation split is folded into the saved
output layer. Then the model is scored on the real-world held-out set, per condition, alone and
fused. Seeded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.model.bundle_files import parse_version
from training import digits_audio, digits_card, digits_images, digits_text
from training.digits_features import INPUTS, OUTPUT, build_vocabulary, featurise, write_bundle_files
from training.evaluate_digits import (
    DEFAULT_SAMPLES,
    METRICS_FILE,
    SUBSETS,
    evaluate,
    evaluate_samples,
    probabilities,
)
from training.make_digits_data import MANIFEST, read_manifest
from training.robustness import (
    Pool,
    fit_temperature,
    fold_temperature,
    pooled_ece,
    summary,
)
from training.robustness import evaluate as evaluate_real_world

# How often each subset of modalities is kept, in SUBSETS order: single modalities are the hardest.
SUBSET_WEIGHTS = (0.15, 0.2, 0.1, 0.1, 0.1, 0.1, 0.25)
CORRUPT_FRACTION = 0.25  # of the multi-input examples: one kept input (two of three) holds no digit
# Of all training examples (fused, and each pretrained tower's): every kept input holds no digit
# and the target is uniform, so what a corrupted part adds is no evidence for any digit.
NO_DIGIT_FRACTION = 0.05
HELD_OUT_COMBOS = 3000  # random same-digit pairings scored per multi-modality subset
VALIDATION_CASES = 6000  # pairings of validation items the temperature is fitted on
SPEC_AUGMENT_BANDS = 8  # a mask hides fewer than this many mel bands ...
SPEC_AUGMENT_FRAMES = 20  # ... or frames (10 ms each)
# Speaking rate: half the training clips are played this much faster or slower (feature frames
# resampled about the window's centre). Slow held-out speech (70-85 wpm) scored 84% with the
# rates espeak-ng says alone (80-330 wpm); the same clips' features squeezed 1.2-1.6x, 91-92%.
TIME_WARP = (0.7, 1.45)
TIME_WARP_SHARE = 0.5
# Half the training images seen at an angle: each corner of the 28x28 crop moved up to this share
# of its side. Tilted held-out photos (30-40 degrees) were the model's weakest image condition.
PERSPECTIVE_JITTER = 0.12
PERSPECTIVE_SHARE = 0.5
# Towers trained alone first (each under its own softmax), in this order, then kept fixed.
PRETRAINED = ("audio", "image")
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
# The clean held-out conditions: comparable with the held-out set of the earlier, clean-only bundle.
CLEAN = {"image": ("clean",), "audio": ("clean",), "text": ("words", "typos")}

EARLIER_CONDITIONS = frozenset(
    [f"image/{c}" for c in digits_images.TEST_CONDITIONS]
    + [f"audio/{c}" for c in digits_audio.RECORDING_CONDITIONS]
    + [f"text/{c}" for c in digits_text.TEST_CONDITIONS]
)

Pools = dict[str, tuple[np.ndarray, np.ndarray]]


def spec_augment(features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SpecAugment (Park et al. 2019) on (n, frames, bands) features: masks set to the mean, 0.

    Each example loses two random runs of bands and two of frames, so the model cannot lean on
    any one part of the spectrum or of the clip: what babble or a phone line hides varies.
    """
    n, frames, bands = features.shape
    keep = np.ones((n, frames, bands), dtype=bool)
    for axis, size, widest in ((2, bands, SPEC_AUGMENT_BANDS), (1, frames, SPEC_AUGMENT_FRAMES)):
        for _ in range(2):
            width = rng.integers(0, widest, size=n)
            first = rng.integers(0, size - width)
            where = np.arange(size)
            hidden = (where >= first[:, None]) & (where < (first + width)[:, None])
            keep &= ~np.expand_dims(hidden, axis=3 - axis)
    return features * keep


def time_warp(features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, frames, bands) features, TIME_WARP_SHARE of them said faster or slower.

    Each chosen example is resampled along time about the window's centre by a factor drawn
    log-uniformly from TIME_WARP (above 1: faster, the edge frames repeated where it runs out).
    """
    n, frames, _ = features.shape
    low, high = np.log(TIME_WARP)
    factor = np.where(rng.random(n) < TIME_WARP_SHARE, np.exp(rng.uniform(low, high, n)), 1.0)
    centre = (frames - 1) / 2
    where = np.clip(centre + (np.arange(frames) - centre) * factor[:, None], 0, frames - 1)
    below = np.floor(where).astype(np.int64)
    above = np.minimum(below + 1, frames - 1)
    weight = (where - below)[..., None].astype(features.dtype)
    rows = np.arange(n)[:, None]
    return features[rows, below] * (1 - weight) + features[rows, above] * weight


def augment_audio(features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Training augmentation of log-mel frames: speaking rate, then SpecAugment."""
    return spec_augment(time_warp(features, rng), rng)


def perspective_warp(features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, h, w, 1) images, PERSPECTIVE_SHARE of them seen at a random angle (corners moved)."""
    n, height, width, _ = features.shape
    out = features.copy()
    corners = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    for i in np.flatnonzero(rng.random(n) < PERSPECTIVE_SHARE):
        moved = corners + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * PERSPECTIVE_JITTER * width
        warp = cv2.getPerspectiveTransform(corners, moved)
        out[i, :, :, 0] = cv2.warpPerspective(features[i, :, :, 0], warp, (width, height))
    return out


# Training augmentation per input: what users' inputs vary in that the generated data does less.
AUGMENT = {"audio": augment_audio, "image": perspective_warp}


def epoch_arrays(
    pools: Pools,
    n: int,
    rng: np.random.Generator,
    corrupt: Pools | None = None,
    augment: bool = False,
    no_digit: float = 0.0,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``n`` random same-digit pairings with modality dropout and corruption; (inputs, digits).

    With ``corrupt`` (input name -> items with no digit), CORRUPT_FRACTION of the examples that
    keep two or three inputs get one (of two) or one or two (of three) of them swapped for such an
    item; at least one input stays clear. A ``no_digit`` share of all examples has every kept
    input swapped: its digit is -1. ``augment`` applies AUGMENT's to each input, noise included.
    """
    digits = rng.integers(0, 10, size=n)
    subsets = rng.choice(len(SUBSETS), size=n, p=SUBSET_WEIGHTS)
    keeps = {name: np.array([name in subset for subset in SUBSETS])[subsets] for name in pools}
    broken = {name: np.zeros(n, dtype=bool) for name in pools}
    if corrupt:
        names = list(pools)
        for i in np.flatnonzero(rng.random(n) < CORRUPT_FRACTION):
            kept = [name for name in names if keeps[name][i]]
            if len(kept) > 1:
                for name in rng.choice(kept, int(rng.integers(1, len(kept))), replace=False):
                    broken[name][i] = True
        for i in np.flatnonzero(rng.random(n) < no_digit):
            for name in names:
                broken[name][i] = keeps[name][i]
    batch = {}
    for name, (features, labels) in pools.items():
        picks = np.empty(n, dtype=np.int64)
        for digit in range(10):
            where = np.flatnonzero(digits == digit)
            picks[where] = rng.choice(np.flatnonzero(labels == digit), size=where.size)
        chosen = features[picks]
        if broken[name].any():
            noise = corrupt[name][0]
            chosen[broken[name]] = noise[rng.integers(len(noise), size=int(broken[name].sum()))]
        if augment and name in AUGMENT:
            chosen = AUGMENT[name](chosen, rng)
        chosen[~keeps[name]] = 0  # exactly what the service sends for a missing modality
        batch[name] = chosen
    no_digit_at_all = np.logical_and.reduce([broken[name] | ~keeps[name] for name in pools])
    return batch, np.where(no_digit_at_all, -1, digits)


def targets(digits: np.ndarray) -> np.ndarray:
    """One-hot rows for digits 0-9; a uniform row where there is none (-1)."""
    out = np.full((len(digits), 10), 0.1, dtype=np.float32)
    known = digits >= 0
    out[known] = np.eye(10, dtype=np.float32)[digits[known]]
    return out


def condition_pools(rows: list[dict[str, str]], features: dict, split: str) -> dict[str, Pool]:
    """Input name -> its ``split`` features with digits and each row's condition (its source)."""
    pools = {}
    for name, spec in INPUTS.items():
        sources = [
            r["source"] for r in rows if (r["modality"], r["split"]) == (spec["modality"], split)
        ]
        feats, digits = features[(name, split)]
        pools[name] = Pool(feats, digits, np.array(sources))
    return pools


def clean_pools(pools: dict[str, Pool]) -> Pools:
    """The clean held-out conditions only, as (features, digits) per input."""
    out = {}
    for name, pool in pools.items():
        rows = np.isin(pool.conditions, CLEAN[name])
        out[name] = (pool.features[rows], pool.digits[rows])
    return out


def pretrain_tower(model: Any, name: str, pool: tuple[np.ndarray, np.ndarray], noise: np.ndarray,
                   epochs: int, seed: int) -> None:  # fmt: skip
    """Fit input ``name``'s tower of ``model`` alone on every training item (augmented).

    Items with no digit (``noise``) join each epoch, NO_DIGIT_FRACTION of it, with a uniform
    target: the tower learns to say nothing of them rather than some digit.

    Audio is the hardest input: on its own, with batch normalisation over clips only, the
    tower learns what babble and phrases hide; fused training then keeps it as it is. The image
    tower likewise sees every training image at random angles, not only those the fused
    examples happen to keep.
    """
    import keras

    from training.digits_model import tower_classifier

    copies = -(-int(NO_DIGIT_FRACTION * len(pool[1])) // max(1, len(noise)))
    features = np.concatenate([pool[0], *[noise] * copies])
    digits = np.concatenate([pool[1], np.full(copies * len(noise), -1)])
    classifier = tower_classifier(model, name)
    steps = epochs * (len(digits) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    classifier.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="categorical_crossentropy",
        metrics=["categorical_accuracy"],
    )
    rng = np.random.default_rng([seed, 3 + PRETRAINED.index(name)])
    for epoch in range(epochs):
        started = time.monotonic()
        order = rng.permutation(len(digits))
        history = classifier.fit(
            AUGMENT[name](features[order], rng), targets(digits[order]), batch_size=BATCH_SIZE,
            epochs=1, verbose=0, shuffle=False,
        )  # fmt: skip
        loss, acc = history.history["loss"][-1], history.history["categorical_accuracy"][-1]
        took = time.monotonic() - started
        print(f"{name} epoch {epoch + 1}/{epochs}: loss {loss:.4f} acc {acc:.4f} ({took:.0f} s)",
              flush=True)  # fmt: skip


def train(pools: Pools, corrupt: Pools, vocab_size: int, args: Any) -> Any:
    """Build the model, pretrain its audio and image towers, then fit it fused; returns it.

    ``args.start_from``: begin from that model's weights; the towers in ``args.keep`` stay as
    they are there (a kept tower is not pretrained again).
    """
    import keras

    from training.digits_model import build_model, tower

    model = build_model(vocab_size)
    if args.start_from is not None:
        model.set_weights(keras.saving.load_model(args.start_from).get_weights())
    epochs = {"audio": args.audio_epochs, "image": args.image_epochs}
    for name in PRETRAINED:
        if name not in args.keep:
            pretrain_tower(model, name, pools[name], corrupt[name][0], epochs[name], args.seed)
    # Pretrained towers stay as they are: half the fused examples have no clip (zeros), which
    # would skew the audio tower's batch statistics. Trainable with fixed statistics (and 20
    # pretraining epochs, not 30), audio alone scored 93.6% on the real-world set, not 95.2%.
    for name in {*PRETRAINED, *args.keep}:
        for layer in tower(model, name).layers:
            layer.trainable = False
    steps = args.epochs * (args.examples // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss={OUTPUT: "categorical_crossentropy"},
        metrics={OUTPUT: ["categorical_accuracy"]},
    )
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        started = time.monotonic()
        inputs, digits = epoch_arrays(
            pools, args.examples, rng, corrupt, augment=True, no_digit=NO_DIGIT_FRACTION
        )
        history = model.fit(
            inputs, {OUTPUT: targets(digits)}, batch_size=BATCH_SIZE, epochs=1, verbose=0,
            shuffle=False,
        )  # fmt: skip
        loss, acc = history.history["loss"][-1], history.history["categorical_accuracy"][-1]
        took = time.monotonic() - started
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4f} acc {acc:.4f} ({took:.0f} s)",
              flush=True)  # fmt: skip
    return model


def _lacks_a_digit(rows: list[dict[str, str]], split: str) -> bool:
    """Whether some input's ``split`` rows miss one of the digits 0-9."""
    modalities = {entry["modality"] for entry in INPUTS.values()}
    return any(
        len({r["digit"] for r in rows if r["split"] == split and r["modality"] == m}) < 10
        for m in modalities
    )


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="make_digits_data's OUT_DIR")
    parser.add_argument("--out", type=Path, required=True, help="the bundle folder to write")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--audio-epochs", type=int, default=30, help="audio tower alone, first")
    parser.add_argument("--image-epochs", type=int, default=30, help="image tower alone, next")
    parser.add_argument("--examples", type=int, default=16_000, help="pairings per epoch")
    parser.add_argument(
        "--model", type=Path,
        help="no training: score this model.keras with today's preprocessing and calibrate it anew",
    )  # fmt: skip
    parser.add_argument(
        "--start-from", type=Path, help="train on from this model.keras's weights (and vocabulary)"
    )
    parser.add_argument(
        "--keep", nargs="+", default=[], choices=sorted(INPUTS),
        help="with --start-from: these inputs' towers stay as they are there",
    )  # fmt: skip
    args = parser.parse_args()
    if args.keep and args.start_from is None:
        parser.error("--keep needs --start-from: the towers it keeps come from that model")
    # Checked now, not when the bundle is loaded for its samples after the whole training run.
    if parse_version(args.out.name) is None:
        parser.error(f"--out {args.out}: a bundle folder is <name>/<version>, e.g. models/digits/1")
    started = time.monotonic()
    rows = read_manifest(args.data / MANIFEST)
    texts = [r["item"] for r in rows if r["modality"] == "text" and r["split"] == "train"]
    weights = args.model or args.start_from
    if weights is None:
        vocabulary = build_vocabulary(texts)
    else:  # the vocabulary the model was trained with: its embedding has one row per token
        vocabulary = (weights.parent / "vocab.txt").read_text(encoding="utf-8").splitlines()
    write_bundle_files(args.out, vocabulary)
    # Rescoring trains nothing: it featurises the training split only where the temperature
    # has to be fitted on it (a validation split lacking a digit, in a tiny quick run).
    val_lacks_a_digit = _lacks_a_digit(rows, "val")
    needed = rows
    if args.model is not None and not val_lacks_a_digit:
        needed = [r for r in rows if r["split"] != "train"]
    features = featurise(needed, args.data, args.out, workers=os.cpu_count() or 1)
    featurised = time.monotonic()

    import keras  # only now: TensorFlow must not be loaded in the forked feature workers
    import tensorflow as tf

    from training.digits_model import build_model

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    corrupt = {n: features[(n, "corrupt_train")] for n in INPUTS}
    if args.model is None:
        model = train({n: features[(n, "train")] for n in INPUTS}, corrupt, len(vocabulary), args)
    else:
        model = keras.saving.load_model(args.model)
    trained = time.monotonic()

    shapes = {name: (spec["shape"], spec["dtype"]) for name, spec in INPUTS.items()}
    val = {n: features[(n, "val")] for n in INPUTS}
    if val_lacks_a_digit:
        print("validation split lacks a digit: fitting the temperature on training data")
        val = {n: features[(n, "train")] for n in INPUTS}
    val_inputs, val_digits = epoch_arrays(
        val,
        VALIDATION_CASES,
        np.random.default_rng(args.seed + 1),
        corrupt,
    )
    temperature = fit_temperature(probabilities(model, val_inputs), val_digits)
    earlier = None  # what the run that trained --model's weights recorded
    if args.model is not None and (args.model.parent / METRICS_FILE).is_file():
        earlier = json.loads((args.model.parent / METRICS_FILE).read_text(encoding="utf-8"))
    test = condition_pools(rows, features, "test")
    corrupt_test = condition_pools(rows, features, "corrupt_test")
    scored = evaluate_real_world(model, test, corrupt_test, shapes, seed=args.seed)
    real_world = summary(scored, temperature)
    singles = [k for k in scored if "/" in k]
    fused = [k for k in scored if "+" in k]
    # Rescored weights already carry their training's temperature; today's scales that, so the
    # record holds the product: what the output layer divides by in all.
    folded = earlier["calibration"]["temperature"] if earlier else 1.0
    calibration = {
        "temperature": round(folded * temperature, 4),
        "bins": 15,
        "single": pooled_ece(scored, singles, temperature),
        "fused": pooled_ece(scored, fused, temperature),
        "all": pooled_ece(scored, singles + fused, temperature),
        # The single-modality cases of the conditions before the harsher ones joined: comparable
        # with the "single" figure of a bundle measured on those alone.
        "single_earlier_conditions": pooled_ece(
            scored, [k for k in singles if k in EARLIER_CONDITIONS], temperature
        ),
    }
    held_out = evaluate(model, clean_pools(test), shapes, combos=HELD_OUT_COMBOS, seed=args.seed)
    # Saved from an uncompiled copy, so the file holds no optimizer state (a third of the size).
    export = build_model(len(vocabulary))
    export.set_weights(model.get_weights())
    fold_temperature(export, OUTPUT, temperature)
    export.save(args.out / "model.keras")
    samples = evaluate_samples(args.out, args.samples) if args.samples.is_dir() else {}
    info = {
        "seed": args.seed,
        "epochs": args.epochs,
        "audio_epochs": args.audio_epochs,
        "image_epochs": args.image_epochs,
        "examples_per_epoch": args.examples,
        "corrupt_fraction": CORRUPT_FRACTION,
        "counts": {f"{n}/{s}": len(features[(n, s)][1]) for (n, s) in features},
        "vocabulary_size": len(vocabulary),
        "params": model.count_params(),
        "featurise_s": round(featurised - started),
        "train_s": round(trained - featurised),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, keras {keras.__version__}, "
        f"tensorflow {tf.__version__}",
    }
    if args.model is not None:  # how those weights were trained, where that run recorded it
        if earlier is not None:
            recorded = earlier["training"]
            counts = {**recorded["counts"], **info["counts"]}  # its training split's: not read
            info = {**recorded, "counts": counts, "rescore_s": info["featurise_s"]}
        info["weights_from"] = str(args.model)
        info["temperature_refit"] = round(temperature, 4)
    if args.start_from is not None:
        info["started_from"] = str(args.start_from)
        info["kept"] = sorted(args.keep)
    metrics = {
        "held_out": held_out,
        "real_world": real_world,
        "calibration": calibration,
        "samples": samples,
        "training": info,
    }
    (args.out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    digits_card.write(args.out, metrics)
    for key, result in held_out.items():
        print(f"held-out clean {key:20s} {result['accuracy']:.4f} (n={result['n']})")
    for key, result in real_world.items():
        print(f"real-world {key:36s} {result['accuracy']:.4f} (n={result['n']}) "
              f"ece {result['ece_uncalibrated']:.4f} -> {result['ece']:.4f}")  # fmt: skip
    print(f"calibration {json.dumps(calibration)}")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
