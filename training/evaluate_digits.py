"""Accuracy of a digits bundle per modality subset, absent modalities given as zeros.

Usage: ``.venv/bin/python -m training.evaluate_digits models/digits/1 [--samples DIR]``
evaluates the bundle afresh on the committed held-out sample files (DIR, by default
tests/data/digits), loading it the way the service does, and compares with the ``samples`` section
of the bundle's metrics.json; exit status 1 if they differ. A test can call ``evaluate_samples``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

SUBSETS = (
    ("image",), ("audio",), ("text",), ("image", "audio"), ("image", "text"), ("audio", "text"),
    ("image", "audio", "text"),
)  # fmt: skip
METRICS_FILE = "metrics.json"
DEFAULT_SAMPLES = Path("tests/data/digits")
BATCH = 256

Pools = Mapping[str, tuple[np.ndarray, np.ndarray]]  # input name -> (features, digits)


def subset_name(subset: tuple[str, ...]) -> str:
    """'image+audio' style key for a subset of input names."""
    return "+".join(subset)


def probabilities(model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    """The model's softmax scores for a feature batch, in slices of BATCH rows."""
    n = len(next(iter(batch.values())))
    out = []
    for start in range(0, n, BATCH):
        scores = model.predict_on_batch({k: v[start : start + BATCH] for k, v in batch.items()})
        scores = next(iter(scores.values())) if isinstance(scores, dict) else scores
        out.append(np.asarray(scores, dtype=np.float64))
    return np.concatenate(out)


def predict(model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted digit for each row of a feature batch."""
    return probabilities(model, batch).argmax(axis=-1)


def accuracy(
    model: Any, pools: Pools, shapes: Mapping[str, tuple[tuple[int, ...], str]],
    picks: Mapping[str, np.ndarray], digits: np.ndarray,
) -> float:  # fmt: skip
    """Accuracy on cases made of ``picks[name][i]`` of each present input; the rest are zeros."""
    batch = {}
    for name, (shape, dtype) in shapes.items():
        if name in picks:
            batch[name] = pools[name][0][picks[name]]
        else:
            batch[name] = np.zeros((len(digits), *shape), dtype=dtype)
    return float(np.mean(predict(model, batch) == digits))


def round_robin_cases(pools: Pools, subset: tuple[str, ...]) -> tuple[dict, np.ndarray]:
    """Per digit, case k takes item k (cycling) of each input: every item is used at least once."""
    picks: dict[str, list[int]] = {name: [] for name in subset}
    digits: list[int] = []
    for digit in range(10):
        mine = {name: np.flatnonzero(pools[name][1] == digit) for name in subset}
        for k in range(max(len(ids) for ids in mine.values())):
            for name, ids in mine.items():
                picks[name].append(int(ids[k % len(ids)]))
            digits.append(digit)
    return {k: np.array(v) for k, v in picks.items()}, np.array(digits)


def random_cases(
    pools: Pools, subset: tuple[str, ...], n: int, seed: int
) -> tuple[dict, np.ndarray]:
    """``n`` cases, each a random digit and a random item of that digit per input (seeded)."""
    rng = np.random.default_rng(seed)
    digits = np.arange(n) % 10
    by_digit = {name: [np.flatnonzero(pools[name][1] == d) for d in range(10)] for name in subset}
    picks = {name: np.array([rng.choice(by_digit[name][d]) for d in digits]) for name in subset}
    return picks, digits


def evaluate(
    model: Any, pools: Pools, shapes: Mapping[str, tuple[tuple[int, ...], str]],
    *, combos: int | None = None, seed: int = 0,
) -> dict[str, dict[str, float | int]]:  # fmt: skip
    """{subset: {accuracy, n}}; pairings random (``combos`` of them) or else round-robin."""
    results = {}
    for subset in SUBSETS:
        if len(subset) == 1:
            picks, digits = {subset[0]: np.arange(len(pools[subset[0]][1]))}, pools[subset[0]][1]
        elif combos is None:
            picks, digits = round_robin_cases(pools, subset)
        else:
            picks, digits = random_cases(pools, subset, combos, seed)
        acc = accuracy(model, pools, shapes, picks, digits)
        results[subset_name(subset)] = {"accuracy": round(acc, 4), "n": len(digits)}
    return results


def sample_pools(bundle: Any, samples_dir: Path) -> Pools:
    """Features of the committed sample files, made by the loaded bundle's own preprocessors."""
    with open(samples_dir / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    pools = {}
    for name, spec in bundle.inputs.items():
        mine = [r for r in rows if r["modality"] == spec.modality]
        raw = [r["item"] if spec.modality == "text" else (samples_dir / r["item"]).read_bytes()
               for r in mine]  # fmt: skip
        features = np.stack([spec.preprocessor(x) for x in raw])
        pools[name] = (features, np.array([int(r["digit"]) for r in mine]))
    return pools


def evaluate_samples(
    bundle_dir: Path, samples_dir: Path = DEFAULT_SAMPLES
) -> dict[str, dict[str, float | int]]:
    """Fresh per-subset accuracy of the bundle at ``bundle_dir`` on the committed sample files."""
    from app.model.bundle import load_bundle

    bundle = load_bundle(Path(bundle_dir))
    shapes = {name: (spec.shape, str(spec.dtype)) for name, spec in bundle.inputs.items()}
    return evaluate(bundle.model.model, sample_pools(bundle, Path(samples_dir)), shapes)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle_dir", type=Path)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args()
    fresh = evaluate_samples(args.bundle_dir, args.samples)
    recorded = json.loads((args.bundle_dir / METRICS_FILE).read_text())["samples"]
    for key, result in fresh.items():
        was = recorded.get(key, {}).get("accuracy")
        print(f"{key:20s} {result['accuracy']:.4f}  (recorded {was}, n={result['n']})")
    sys.exit(0 if fresh == recorded else 1)


if __name__ == "__main__":
    main()
