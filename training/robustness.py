"""Real-world held-out evaluation of the digits model: per condition, fused, corrupted, calibrated.

Cases are built from feature pools (input name -> features, digits, conditions). A fused case pairs
random held-out items of the same digit, one per present input; a corrupted case swaps one or two
of its inputs for an item that holds no digit at all (babble or noise, blank or scribbled paper,
random words), so only the clear part can answer. Calibration: expected calibration error over
15 equal-width confidence bins, and the temperature that minimises the validation log loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize

from training.evaluate_digits import SUBSETS, probabilities, subset_name

ECE_BINS = 15
FUSED_CASES = 2000  # random same-digit pairings per fused subset


@dataclass
class Pool:
    """Features of one input, with each row's digit (-1: no digit) and condition."""

    features: np.ndarray
    digits: np.ndarray
    conditions: np.ndarray


Shapes = Mapping[str, tuple[tuple[int, ...], str]]


def assemble(pools: Mapping[str, Pool], shapes: Shapes, picks: Mapping[str, np.ndarray],
             n: int) -> dict[str, np.ndarray]:  # fmt: skip
    """A batch of ``n`` cases: ``picks[name]`` rows of each present input, zeros for the rest."""
    return {
        name: pools[name].features[picks[name]]
        if name in picks
        else np.zeros((n, *shape), dtype=dtype)
        for name, (shape, dtype) in shapes.items()
    }


def fused_cases(pools: Mapping[str, Pool], subset: tuple[str, ...], n: int,
                rng: np.random.Generator,
                corrupt: Mapping[str, Pool] | None = None,
                n_corrupted: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:  # fmt: skip
    """``n`` same-digit pairings over ``subset``; ``n_corrupted`` inputs per case hold no digit.

    Returns (picks into each pool, digits); a corrupted input's picks index ``corrupt[name]``.
    """
    digits = np.arange(n) % 10
    picks = {}
    for name in subset:
        by_digit = [np.flatnonzero(pools[name].digits == d) for d in range(10)]
        picks[name] = np.array([rng.choice(by_digit[d]) for d in digits])
    broken = np.zeros((n, len(subset)), dtype=bool)
    for i in range(n):
        broken[i, rng.choice(len(subset), n_corrupted, replace=False)] = True
    corrupted = {}
    for j, name in enumerate(subset):
        if broken[:, j].any():
            corrupted[name] = (broken[:, j], rng.integers(len(corrupt[name].digits), size=n))
    return {"picks": picks, "corrupted": corrupted}, digits


def fused_batch(pools: Mapping[str, Pool], corrupt: Mapping[str, Pool] | None, shapes: Shapes,
                cases: dict, n: int) -> dict[str, np.ndarray]:  # fmt: skip
    """The feature batch of cases made by ``fused_cases``."""
    batch = assemble(pools, shapes, cases["picks"], n)
    for name, (mask, rows) in cases["corrupted"].items():
        batch[name] = batch[name].copy()
        batch[name][mask] = corrupt[name].features[rows[mask]]
    return batch


@dataclass
class Scored:
    """Scores of a set of cases and their true digits."""

    probs: np.ndarray
    digits: np.ndarray
    # Corrupted cases: the scores with the corrupted parts absent (zeros), what the clear parts
    # answer alone; no fusion can do better on these cases than that.
    clear_alone: np.ndarray | None = None

    def accuracy(self) -> float:
        return float(np.mean(self.probs.argmax(axis=1) == self.digits))


def evaluate(model: Any, pools: Mapping[str, Pool], corrupt: Mapping[str, Pool], shapes: Shapes,
             seed: int = 0) -> dict[str, Scored]:  # fmt: skip
    """Key -> scored cases: every condition of each input alone, then the fused sets.

    Keys: ``image/clean`` ... (one input, one condition, every held-out item), ``image`` (all its
    conditions), ``image+audio`` ... (random same-digit pairings across all conditions) and
    ``image+audio+text, 1 corrupted`` / ``2 corrupted`` (one or two inputs hold no digit).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, Scored] = {}
    for name, pool in pools.items():
        for condition in dict.fromkeys(pool.conditions):
            rows = np.flatnonzero(pool.conditions == condition)
            probs = probabilities(model, assemble(pools, shapes, {name: rows}, len(rows)))
            out[f"{name}/{condition}"] = Scored(probs, pool.digits[rows])
        rows = np.arange(len(pool.digits))
        probs = probabilities(model, assemble(pools, shapes, {name: rows}, len(rows)))
        out[name] = Scored(probs, pool.digits)
    for subset in SUBSETS[3:]:
        cases, digits = fused_cases(pools, subset, FUSED_CASES, rng)
        batch = fused_batch(pools, corrupt, shapes, cases, len(digits))
        out[subset_name(subset)] = Scored(probabilities(model, batch), digits)
    everything = SUBSETS[-1]
    for k in (1, 2):
        cases, digits = fused_cases(pools, everything, FUSED_CASES, rng, corrupt, k)
        batch = fused_batch(pools, corrupt, shapes, cases, len(digits))
        alone = assemble(pools, shapes, cases["picks"], len(digits))
        for name, (mask, _) in cases["corrupted"].items():
            alone[name][mask] = 0
        out[f"{subset_name(everything)}, {k} corrupted"] = Scored(
            probabilities(model, batch), digits, probabilities(model, alone)
        )
    return out


def ece(probs: np.ndarray, digits: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: |accuracy - confidence| per confidence bin, weighted by size."""
    confidence = probs.max(axis=1)
    right = probs.argmax(axis=1) == digits
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(right[inside].mean() - confidence[inside].mean())
    return float(total)


def scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax scores recomputed at ``temperature`` (what dividing the logits by it gives)."""
    logits = np.log(np.clip(probs, 1e-30, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, digits: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``probs`` (validation scores)."""

    def nll(log_t: float) -> float:
        p = scaled(probs, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(digits)), digits], 1e-30, 1.0))))

    best = scipy.optimize.minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded")
    return float(np.exp(best.x))


def fold_temperature(model: Any, output_layer: str, temperature: float) -> None:
    """Divide the final dense layer's logits by ``temperature``: the saved softmax is calibrated."""
    layer = model.get_layer(output_layer)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel / temperature, bias / temperature])


def summary(scored: Mapping[str, Scored], temperature: float) -> dict[str, dict[str, Any]]:
    """Key -> {accuracy, n, ece, ece_uncalibrated} and, for corrupted cases, ``clear_alone`` (the
    accuracy with the corrupted parts absent); ``scored`` holds the uncalibrated scores."""
    out = {}
    for key, s in scored.items():
        out[key] = {
            "accuracy": round(s.accuracy(), 4),
            "n": len(s.digits),
            "ece_uncalibrated": round(ece(s.probs, s.digits), 4),
            "ece": round(ece(scaled(s.probs, temperature), s.digits), 4),
        }
        if s.clear_alone is not None:
            right = s.clear_alone.argmax(axis=1) == s.digits
            out[key]["clear_alone"] = round(float(np.mean(right)), 4)
    return out


def pooled_ece(scored: Mapping[str, Scored], keys: list[str], temperature: float) -> dict:
    """ECE before and after scaling over the cases of ``keys`` together."""
    probs = np.concatenate([scored[k].probs for k in keys])
    digits = np.concatenate([scored[k].digits for k in keys])
    return {
        "n": len(digits),
        "ece_uncalibrated": round(ece(probs, digits), 4),
        "ece": round(ece(scaled(probs, temperature), digits), 4),
    }
