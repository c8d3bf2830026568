"""Build the digits data set: PNG images, WAV clips and typed texts, split by source.

Usage: ``.venv/bin/python -m training.make_digits_data build/digits [--samples tests/data/digits]``

Needs espeak-ng (``apt-get install espeak-ng``) for the spoken digits, and uses the fonts installed
under /usr/share/fonts; the reference build also had ``apt-get install fonts-liberation
fonts-freefont-ttf fonts-comic-neue fonts-dkg-handwriting fonts-breip fonts-bwht fonts-humor-sans
fonts-kristi fonts-dancingscript fonts-cantarell fonts-crosextra-carlito fonts-crosextra-caladea
fonts-lato fonts-open-sans fonts-quicksand fonts-jura fonts-inconsolata fonts-urw-base35
fonts-dejavu-extra fonts-kaushanscript``. Writes ``OUT_DIR/manifest.csv`` (modality, split, digit,
source, item: a path relative to OUT_DIR, or the text itself). With ``--samples DIR`` it also writes
the small committed set of held-out files (a few per digit, one MP3, one FLAC) and their manifest.
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
SAMPLE_IMAGES = {"sklearn": 2, "font": 1}  # per digit, from the held-out writers and fonts
SAMPLE_TEXTS = 3  # per digit
COMPRESSED = {3: "MP3", 8: "FLAC"}  # digit -> format of one extra clip


def build(out_dir: Path, seed: int, workers: int) -> list[dict[str, str]]:
    """Write every file of the data set under ``out_dir``; returns the manifest rows."""
    digits_audio.require_espeak()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    rows: list[dict[str, str]] = []
    started = time.monotonic()
    for split, digit, source, name, png in digits_images.make_images(seed):
        path = Path("image") / split / str(digit) / f"{name}.png"
        _write(out_dir / path, png)
        rows.append(_row("image", split, digit, source, str(path)))
    print(f"images: {len(rows)} in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    clips = digits_audio.plan_clips(seed + 1)
    with multiprocessing.Pool(workers) as pool:
        wavs = pool.imap(digits_audio.render, clips, chunksize=8)
        for clip, wav in zip(clips, wavs, strict=True):
            path = Path("audio") / clip.split / str(clip.digit) / f"{clip.name}.wav"
            _write(out_dir / path, wav)
            source = f"voice:{clip.voice}+{clip.variant or 'plain'}@{clip.speed}"
            rows.append(_row("audio", clip.split, clip.digit, source, str(path)))
    print(f"audio: {len(clips)} in {time.monotonic() - started:.0f} s", flush=True)
    train, test = digits_text.make_texts(seed + 2)
    for split, texts in (("train", train), ("test", test)):
        rows += [_row("text", split, d, f"typed:{kind}", text) for d, text, kind in texts]
    with open(out_dir / MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    (out_dir / "VERSIONS.txt").write_text(version, encoding="utf-8")
    return rows


def write_samples(data_dir: Path, rows: list[dict[str, str]], samples: Path, seed: int) -> None:
    """Copy a seeded random pick of held-out files per digit into ``samples`` with a manifest."""
    rng = random.Random(seed)
    test = [r for r in rows if r["split"] == "test"]
    if samples.exists():
        shutil.rmtree(samples)
    samples.mkdir(parents=True)
    picked: list[dict[str, str]] = []
    for digit in map(str, range(10)):
        mine = [r for r in test if r["digit"] == digit]
        images = []
        for kind, count in SAMPLE_IMAGES.items():
            images += rng.sample([r for r in mine if r["source"].startswith(kind)], count)
        for k, row in enumerate(images):
            picked.append(_copy(data_dir, row, samples / f"image_{digit}_{k}.png"))
        clips = rng.sample([r for r in mine if r["modality"] == "audio"], 2)
        picked.append(_copy(data_dir, clips[0], samples / f"audio_{digit}_0.wav"))
        if int(digit) in COMPRESSED:
            fmt = COMPRESSED[int(digit)]
            target = samples / f"audio_{digit}_1.{fmt.lower()}"
            samples_, rate = sf.read(data_dir / clips[1]["item"], dtype="float32")
            sf.write(target, samples_, rate, format=fmt)
            picked.append({**clips[1], "item": target.name})
        texts = rng.sample([r for r in mine if r["modality"] == "text"], SAMPLE_TEXTS)
        picked += texts
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
    args = parser.parse_args()
    started = time.monotonic()
    rows = build(args.out_dir, args.seed, args.workers)
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
