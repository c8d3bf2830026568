"""Accuracy of a bundle per held-out condition, rendered in memory, one modality at a time.

Usage: ``.venv/bin/python -m training.evaluate_conditions models/digits/1 [--conditions ...]
[--variant NAME=k:v,k:v ...] [--timing]`` renders the held-out items of each condition (as
training/make_digits_data.py would write them, seed 0), makes their features with the loaded
bundle's own preprocessor (``as-is``) and with each variant (the bundle's parameters with some
replaced), feeds the model with the other inputs zero, and prints accuracy per condition and
variant. ``--timing`` adds the median preprocessing time of one 1280x720 photo per variant.

One function per modality (``image_conditions``, ``text_conditions``: ``--modality text``,
``audio_conditions``: ``--modality audio``, its clips rendered by espeak-ng) so the others can join.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from training.evaluate_digits import predict

DEFAULT_SEED = 0  # make_digits_data.py's default: the held-out set the bundle was scored on


def _zeros_batch(bundle: Any, name: str, features: np.ndarray) -> dict[str, np.ndarray]:
    """The model batch with ``features`` as input ``name`` and every other input zero."""
    return {
        other: features if other == name else np.zeros((len(features), *spec.shape), spec.dtype)
        for other, spec in bundle.inputs.items()
    }


def _variant_preprocessors(
    bundle_dir: Path, modality: str, variants: Mapping[str, dict[str, Any]] | None
) -> tuple[Any, str, dict[str, Any]]:
    """The bundle, its input of ``modality``, and variant name -> a preprocessor of that input:
    the bundle's own for ``as-is``, else its bundle.yaml parameters updated with the variant's."""
    from app.model.bundle import load_bundle
    from app.preprocessing import PREPROCESSORS

    bundle_dir = Path(bundle_dir)
    bundle = load_bundle(bundle_dir)
    name = next(n for n, s in bundle.inputs.items() if s.modality == modality)
    spec = bundle.inputs[name]
    yaml_params = yaml.safe_load((bundle_dir / "bundle.yaml").read_text(encoding="utf-8"))
    params = yaml_params["inputs"][name]["params"]
    out = {"as-is": spec.preprocessor}
    for variant, update in (variants or {}).items():
        out[variant] = PREPROCESSORS[modality](
            {**params, **update}, bundle_dir=bundle_dir, shape=spec.shape, dtype=str(spec.dtype)
        )
    return bundle, name, out


def _score(
    bundle: Any, name: str, preps: Mapping[str, Any], uploads: list[Any], digits: np.ndarray
) -> dict[str, dict[str, float | int]]:
    """{variant: {accuracy, n}}: the model's answers on ``uploads`` through each preprocessor."""
    scored: dict[str, dict[str, float | int]] = {}
    for variant, prep in preps.items():
        features = np.stack([prep(upload) for upload in uploads])
        guess = predict(bundle.model.model, _zeros_batch(bundle, name, features))
        scored[variant] = {"accuracy": round(float(np.mean(guess == digits)), 4), "n": len(digits)}
    return scored


def _score_by_condition(
    bundle: Any, name: str, preps: Mapping[str, Any], wanted: Iterable[str],
    items: list[tuple[str, int, Any]], kind: str,
) -> dict[str, dict[str, dict[str, float | int]]]:  # fmt: skip
    """{condition: {variant: {accuracy, n}}} over ``items`` of (condition, digit, upload)."""
    results = {}
    for condition in wanted:
        mine = [(digit, upload) for c, digit, upload in items if c == condition]
        if not mine:
            raise ValueError(f"no held-out {kind} of condition {condition!r}")
        digits = np.array([digit for digit, _ in mine])
        results[condition] = _score(bundle, name, preps, [u for _, u in mine], digits)
    return results


def _call_times(preps: Mapping[str, Any], uploads: list[Any]) -> dict[str, list[float]]:
    """Variant -> seconds of each call of its preprocessor on ``uploads``, after one warm-up."""
    out = {}
    for variant, prep in preps.items():
        prep(uploads[0])
        times = []
        for upload in uploads:
            started = time.perf_counter()
            prep(upload)
            times.append(time.perf_counter() - started)
        out[variant] = times
    return out


def image_conditions(
    bundle_dir: Path,
    conditions: Iterable[str] | None = None,
    variants: Mapping[str, dict[str, Any]] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
) -> dict[str, dict[str, dict[str, float | int]]]:
    """{condition: {variant: {accuracy, n}}} for the bundle's image input on held-out images."""
    from training import digits_images

    bundle, name, preps = _variant_preprocessors(bundle_dir, "image", variants)
    wanted = tuple(conditions or (*digits_images.TEST_CONDITIONS, *digits_images.SCENE_CONDITIONS))
    plan = digits_images.plan_images(seed, scale)
    items = [
        (p.condition, p.digit, digits_images.draw(p)[0])
        for p in plan
        if p.split == "test" and p.condition in wanted
    ]
    return _score_by_condition(bundle, name, preps, wanted, items, "images")


def image_timing(
    bundle_dir: Path, variants: Mapping[str, dict[str, Any]], runs: int = 50, seed: int = 0
) -> dict[str, float]:
    """Median milliseconds of the image preprocessor per variant on a 1280x720 busy-page JPEG."""
    from training import digits_images

    bundle, name, preps = _variant_preprocessors(bundle_dir, "image", variants)
    plan = digits_images.plan_images(seed, 0.2)
    photo = next(p for p in plan if p.condition == "busy_page")  # 1280x720
    data = digits_images.draw(photo)[0]
    times = _call_times(preps, [data] * runs)
    return {variant: round(statistics.median(t) * 1000, 2) for variant, t in times.items()}


def text_conditions(
    bundle_dir: Path,
    conditions: Iterable[str] | None = None,
    variants: Mapping[str, dict[str, Any]] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
) -> dict[str, dict[str, dict[str, float | int]]]:
    """{condition: {variant: {accuracy, n}}} for the bundle's text input on held-out texts.

    The texts are make_digits_data.py's (``make_texts(seed + 2)``) for ``TEST_CONDITIONS``, and
    ``extra_test_texts(seed + 2)`` for ``EXTRA_TEST_CONDITIONS``.
    """
    from training import digits_text

    bundle, name, preps = _variant_preprocessors(bundle_dir, "text", variants)
    wanted = tuple(conditions or (*digits_text.TEST_CONDITIONS, *digits_text.EXTRA_TEST_CONDITIONS))
    texts = []
    if set(wanted) & set(digits_text.TEST_CONDITIONS):
        texts += digits_text.make_texts(seed + 2, scale)[2]
    extra = tuple(c for c in wanted if c in digits_text.EXTRA_TEST_CONDITIONS)
    if extra:
        texts += digits_text.extra_test_texts(seed + 2, extra, scale)
    items = [(kind, digit, text) for digit, text, kind in texts]
    return _score_by_condition(bundle, name, preps, wanted, items, "texts")


def text_timing(
    bundle_dir: Path, variants: Mapping[str, dict[str, Any]], seed: int = DEFAULT_SEED
) -> dict[str, float]:
    """Median microseconds of the text preprocessor per variant over every held-out text."""
    from training import digits_text

    bundle, name, preps = _variant_preprocessors(bundle_dir, "text", variants)
    texts = [t for _, t, _ in digits_text.make_texts(seed + 2)[2]]
    texts += [t for _, t, _ in digits_text.extra_test_texts(seed + 2)]
    times = _call_times(preps, texts)
    return {variant: round(statistics.median(t) * 1e6, 1) for variant, t in times.items()}


def audio_conditions(
    bundle_dir: Path,
    conditions: Iterable[str] | None = None,
    variants: Mapping[str, dict[str, Any]] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    workers: int = 1,
) -> dict[str, dict[str, dict[str, float | int]]]:
    """{condition: {variant: {accuracy, n}}} for the bundle's audio input on held-out clips.

    The clips are make_digits_data.py's (``plan_clips(seed + 1)``, rendered by espeak-ng) and go
    to the preprocessor as WAV bytes. ``as-is`` also has ``voiced_s_max``, the longest voiced span
    (what the energy trim keeps), and ``over_window``, how many clips' span is longer than the
    bundle's window (only their loudest stretch reaches the model).
    """
    import multiprocessing

    from training import digits_audio

    digits_audio.require_espeak()
    wanted = tuple(conditions or digits_audio.TEST_CONDITIONS)
    plan = digits_audio.plan_clips(seed + 1, scale)
    clips = [c for c in plan if c.split == "test" and c.digit >= 0 and c.condition in wanted]
    digits_audio.prepare_babble(seed, 0.0)  # held-out babble: fixed sentences, whatever the scale
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            wavs = pool.map(digits_audio.render, clips, chunksize=8)
    else:
        wavs = [digits_audio.render(clip) for clip in clips]
    bundle, name, preps = _variant_preprocessors(bundle_dir, "audio", variants)
    items = [(clip.condition, clip.digit, wav) for clip, wav in zip(clips, wavs, strict=True)]
    results = _score_by_condition(bundle, name, preps, wanted, items, "clips")
    prep = bundle.inputs[name].preprocessor
    for condition, row in results.items():
        voiced = np.array([_voiced_s(prep, wav) for c, _, wav in items if c == condition])
        row["as-is"]["voiced_s_max"] = round(float(voiced.max()), 3)
        row["as-is"]["over_window"] = int(np.sum(voiced > prep.duration_s))
    return results


def _voiced_s(prep: Any, wav: bytes) -> float:
    """Seconds of a clip that the audio preprocessor's energy trim keeps (its voiced span)."""
    import io

    import soundfile as sf
    import soxr

    from app.preprocessing.voiced import frame_rms, voiced_span

    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    if rate != prep.sample_rate:
        samples = soxr.resample(samples, rate, prep.sample_rate)
    frame_length, hop_length = prep.trim_frame
    rms = frame_rms(samples, frame_length, hop_length)
    start, end = voiced_span(samples, rms, hop_length, prep.trim_db)
    return (end - start) / prep.sample_rate


def _parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """NAME=key:value,key:value (values read as YAML)."""
    label, _, body = text.partition("=")
    pairs = (item.split(":", 1) for item in body.split(",") if item)
    return label, {k: yaml.safe_load(v) for k, v in pairs}


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle_dir", type=Path)
    parser.add_argument("--conditions", nargs="*")
    parser.add_argument("--variant", action="append", default=[], type=_parse_variant)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--modality", choices=("image", "text", "audio"), default="image")
    args = parser.parse_args()
    variants = dict(args.variant)
    by_modality = {"text": text_conditions, "audio": audio_conditions}
    conditions = by_modality.get(args.modality, image_conditions)
    results = conditions(args.bundle_dir, args.conditions, variants, scale=args.scale)
    names = ["as-is", *variants]
    print(f"{'condition':26s} " + " ".join(f"{v:>16s}" for v in names) + "     n")
    for condition, row in results.items():
        cells = " ".join(f"{row[v]['accuracy']:16.4f}" for v in names)
        print(f"{condition:26s} {cells} {row['as-is']['n']:5d}")
    if args.modality == "audio":
        for condition, row in results.items():
            span, over = row["as-is"]["voiced_s_max"], row["as-is"]["over_window"]
            print(f"{condition:26s} longest voiced span {span} s, {over} clips over the window")
    if args.timing and args.modality == "text":
        for variant, us in text_timing(args.bundle_dir, variants).items():
            print(f"median us per text, {variant}: {us}")
    elif args.timing and args.modality == "image":
        for variant, ms in image_timing(args.bundle_dir, variants).items():
            print(f"median ms per 1280x720 photo, {variant}: {ms}")


if __name__ == "__main__":
    main()
