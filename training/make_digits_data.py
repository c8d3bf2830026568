"""Build the digits data set: PNG images, WAV clips and typed texts, split by source.

Usage: ``.venv/bin/python -m training.make_digits_data build/digits [--samples tests/data/digits]``

Needs espeak-ng (``apt-get install espeak-ng``) for the spoken digits, and uses the fonts installed
under /usr/share/fonts; the reference build also had ``apt-get install fonts-liberation
fonts-freefont-ttf fonts-comic-neue fonts-dkg-handwriting fonts-breip fonts-bwht fonts-humor-sans
fonts-kristi fonts-dancingscript fonts-cantarell fonts-crosextra-carlito fonts-crosextra-caladea
fonts-lato fonts-open-sans fonts-quicksand fonts-jura fonts-inconsolata fonts-urw-base35
fonts-dejavu-extra fonts-kaushanscript``. Writes ``OUT_DIR/manifest.csv`` (modality, split, digit,
source, item: a path relative to OUT_DIR, or the text itself). With ``--samples DIR`` it also writes
the small committed set of real-world held-out files (a few per digit, one MP3, one FLAC) and their
manifest. ``--scale 0.01`` makes a tiny set in seconds (the training test uses it).
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import random
import shutil
import subprocess
import time
from pathlib import Path

import soundfile as sf

from training import digits_audio, digits_images, digits_text

MANIFEST = "manifest.csv"
FIELDS = ("modality", "split", "digit", "source", "item")
# Splits: train, val (temperature scaling), test (real-world held-out, source = condition), and
# corrupt_train / corrupt_test: items with no digit (digit -1) that stand in for a broken modality.
SAMPLE_IMAGE_CONDITIONS = ("clean", "inverted")  # per digit, plus one photo condition in turn
SAMPLE_TEXTS = 3  # per digit
# digit -> format and condition of one extra clip: lossy coding is degradation enough for MP3.
COMPRESSED = {3: ("MP3", "clean"), 8: ("FLAC", "late_start")}
MAX_SAMPLE_BYTES = 40_000  # a committed sample file is at most this big


def build(out_dir: Path, seed: int, workers: int, scale: float = 1.0) -> list[dict[str, str]]:
    """Write every file of the data set under ``out_dir``; returns the manifest rows."""
    digits_audio.require_espeak()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    rows: list[dict[str, str]] = []
    started = time.monotonic()
    digits_audio.prepare_babble(seed, scale)  # before the fork: workers share the rendered babble
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pictures = digits_images.plan_images(seed, scale)
        drawn = pool.imap(digits_images.draw, pictures, chunksize=16)
        for picture, (data, ext) in zip(pictures, drawn, strict=True):
            split = _split(picture.split, picture.digit)
            path = Path("image") / split / str(picture.digit) / f"{picture.name}.{ext}"
            _write(out_dir / path, data)
            rows.append(_row("image", split, picture.digit, picture.source, str(path)))
        print(f"images: {len(rows)} in {time.monotonic() - started:.0f} s", flush=True)
        started = time.monotonic()
        clips = digits_audio.plan_clips(seed + 1, scale)
        wavs = pool.imap(digits_audio.render, clips, chunksize=16)
        for clip, wav in zip(clips, wavs, strict=True):
            split = _split(clip.split, clip.digit)
            path = Path("audio") / split / str(clip.digit) / f"{clip.name}.wav"
            _write(out_dir / path, wav)
            if clip.split == "test" and clip.digit >= 0:
                source = clip.condition
            else:
                source = f"voice:{clip.voice}+{clip.variant or 'plain'}@{clip.speed}"
            rows.append(_row("audio", split, clip.digit, source, str(path)))
    print(f"audio: {len(clips)} in {time.monotonic() - started:.0f} s", flush=True)
    train, val, test, noise = digits_text.make_texts(seed + 2, scale)
    test += digits_text.extra_test_texts(seed + 2, scale=scale)
    for split, texts in (("train", train), ("val", val), ("test", test)):
        rows += [_row("text", split, d, kind, text) for d, text, kind in texts]
    for _, text, kind in noise:
        split = "corrupt_test" if kind.endswith("test") else "corrupt_train"
        rows.append(_row("text", split, -1, "noise_only", text))
    with open(out_dir / MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    (out_dir / "VERSIONS.txt").write_text(version, encoding="utf-8")
    return rows


def _split(split: str, digit: int) -> str:
    """The manifest split: no-digit items go to corrupt_train or corrupt_test."""
    if digit >= 0:
        return split
    return "corrupt_test" if split == "test" else "corrupt_train"


def write_samples(data_dir: Path, rows: list[dict[str, str]], samples: Path, seed: int) -> None:
    """Copy a seeded pick of real-world held-out files per digit into ``samples``, with a manifest.

    Per digit: a clean, an inverted and one photographed image (the photo condition taking turns),
    one clip (its condition taking turns; digits 3 and 8 get one more: MP3 clean, FLAC late) and
    three texts of different conditions.
    """
    rng = random.Random(seed)
    test = [r for r in rows if r["split"] == "test"]
    if samples.exists():
        shutil.rmtree(samples)
    samples.mkdir(parents=True)
    picked: list[dict[str, str]] = []
    photos = [c for c in digits_images.TEST_CONDITIONS if c not in SAMPLE_IMAGE_CONDITIONS]
    for digit in range(10):
        mine = [r for r in test if r["digit"] == str(digit)]

        def pick(modality: str, condition: str, mine=mine) -> dict[str, str]:
            fits = [r for r in mine if (r["modality"], r["source"]) == (modality, condition)]
            if modality == "text":
                return rng.choice(fits)
            sizes = {r["item"]: (data_dir / r["item"]).stat().st_size for r in fits}
            small = [r for r in fits if sizes[r["item"]] <= MAX_SAMPLE_BYTES]
            return rng.choice(small) if small else min(fits, key=lambda r: sizes[r["item"]])

        conditions = [*SAMPLE_IMAGE_CONDITIONS, photos[digit % len(photos)]]
        for k, condition in enumerate(conditions):
            row = pick("image", condition)
            ext = Path(row["item"]).suffix
            picked.append(_copy(data_dir, row, samples / f"image_{digit}_{k}{ext}"))
        audio_conditions = digits_audio.TEST_CONDITIONS
        row = pick("audio", audio_conditions[digit % len(audio_conditions)])
        picked.append(_copy(data_dir, row, samples / f"audio_{digit}_0.wav"))
        if digit in COMPRESSED:
            fmt, condition = COMPRESSED[digit]
            row = pick("audio", condition)
            target = samples / f"audio_{digit}_1.{fmt.lower()}"
            samples_, rate = sf.read(data_dir / row["item"], dtype="float32")
            sf.write(target, samples_, rate, format=fmt)
            picked.append({**row, "item": target.name})
        text_conditions = digits_text.TEST_CONDITIONS
        for k in range(SAMPLE_TEXTS):
            picked.append(pick("text", text_conditions[(digit + k) % len(text_conditions)]))
    with open(samples / MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [k for k in FIELDS if k != "split"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(picked)


def read_manifest(path: Path) -> list[dict[str, str]]:
    """The rows of a manifest.csv written by this module."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _copy(data_dir: Path, row: dict[str, str], target: Path) -> dict[str, str]:
    shutil.copyfile(data_dir / row["item"], target)
    return {**row, "item": target.name}


def _row(modality: str, split: str, digit: int, source: str, item: str) -> dict[str, str]:
    return dict(zip(FIELDS, (modality, split, str(digit), source, item), strict=True))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _check_readable(path: Path) -> None:
    sf.info(io.BytesIO(path.read_bytes()))


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--samples", type=Path, help="also write the committed held-out samples")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every count (quick runs)")
    args = parser.parse_args()
    started = time.monotonic()
    rows = build(args.out_dir, args.seed, args.workers, args.scale)
    if args.samples:
        write_samples(args.out_dir, rows, args.samples, args.seed)
        for path in args.samples.glob("audio_*"):
            _check_readable(path)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["modality"], row["split"])
        counts[key] = counts.get(key, 0) + 1
    print(", ".join(f"{m}/{s}: {n}" for (m, s), n in sorted(counts.items())))
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
