"""The digits bundle's inputs and their features, computed only by the service's preprocessors."""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from app.cli.progress import track
from app.preprocessing import PREPROCESSORS
from app.preprocessing.text import TextPreprocessor

LABELS = tuple(str(d) for d in range(10))
PAD, OOV = "<pad>", "<unk>"
MIN_TOKEN_COUNT = 3  # rarer characters map to the OOV id, so the model learns that id too
# Model input name -> modality, shape (no batch axis), dtype and preprocessing parameters.
INPUTS: dict[str, dict[str, Any]] = {
    "image": {
        "modality": "image",
        "shape": (28, 28, 1),
        "dtype": "float32",
        # Ink comes out high and paper low whichever way round the upload is (polarity auto);
        # ruled lines and form boxes are painted out, and the digit-shaped object is cropped
        # out of a photo (not all the ink on the page) and centred by mass, as MNIST was prepared.
        "params": {"resize": "pad", "pad_value": 255, "interpolation": "area", "scale": "unit",
                   "polarity": "auto", "crop": "object", "remove_frames": True, "flatten": True},
    },
    "audio": {
        "modality": "audio",
        "shape": (151, 40),
        "dtype": "float32",
        # The 1.5 s window sits on the voiced part: a word said late or at a phrase's end counts.
        "params": {"sample_rate": 16000, "duration_s": 1.5, "trim": "energy", "window": "voiced",
                   "features": "log_mel", "n_fft": 512,
                   "win_length": 400, "hop_length": 160, "n_mels": 40, "fmin": 20, "fmax": 8000,
                   "normalize": "per_utterance", "layout": "time_major"},
    },
    "text": {
        "modality": "text",
        "shape": (32,),
        "dtype": "int32",
        # Number words of other languages and scripts become the digit before tokenising.
        "params": {"vocabulary": "vocab.txt", "tokenizer": "char", "lowercase": True,
                   "map_digits": True, "fold_punctuation": True, "number_words": "numbers.tsv"},
    },
}  # fmt: skip
OUTPUT = "digit"
# Set before the worker pool forks, so workers share the preprocessors without pickling them.
_WORKER_STATE: dict[str, Any] = {}
DESCRIPTION = "Digits 0-9 from a handwritten image, a spoken word and/or typed text, fused"
# The number-word table is data of the reference bundle; a bundle trained elsewhere gets a copy.
NUMBER_WORDS = Path(__file__).resolve().parent.parent / "models" / "digits" / "1" / "numbers.tsv"


def build_vocabulary(texts: list[str]) -> list[str]:
    """Vocabulary lines (pad, OOV, then tokens by frequency) from the service's own tokeniser."""
    with tempfile.TemporaryDirectory() as tmp:
        bootstrap = Path(tmp) / "vocab.txt"
        bootstrap.write_text(f"{PAD}\n{OOV}\n", encoding="utf-8")
        shutil.copyfile(NUMBER_WORDS, Path(tmp) / NUMBER_WORDS.name)
        spec = INPUTS["text"]
        tokenizer = TextPreprocessor(
            spec["params"], bundle_dir=Path(tmp), shape=spec["shape"], dtype=spec["dtype"]
        )
        counts = Counter(token for text in texts for token in tokenizer.tokens(text))
    kept = sorted((t for t, n in counts.items() if n >= MIN_TOKEN_COUNT), key=lambda t: -counts[t])
    return [PAD, OOV, *kept]


def write_bundle_files(bundle_dir: Path, vocabulary: list[str]) -> None:
    """Write bundle.yaml, labels.txt, vocab.txt and numbers.tsv (everything but the model)."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    if (bundle_dir / NUMBER_WORDS.name).resolve() != NUMBER_WORDS:
        shutil.copyfile(NUMBER_WORDS, bundle_dir / NUMBER_WORDS.name)
    (bundle_dir / "labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    (bundle_dir / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    spec = {
        "description": DESCRIPTION,
        "inputs": {
            name: {"modality": entry["modality"], "missing": "zeros", "params": entry["params"]}
            for name, entry in INPUTS.items()
        },
        "outputs": {OUTPUT: {"kind": "classification", "labels": "labels.txt"}},
    }
    text = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100)
    (bundle_dir / "bundle.yaml").write_text(text, encoding="utf-8")


def preprocessors(bundle_dir: Path) -> dict[str, Any]:
    """Model input name -> the service's preprocessor for it, built from the bundle's files."""
    spec = yaml.safe_load((bundle_dir / "bundle.yaml").read_text(encoding="utf-8"))
    return {
        name: PREPROCESSORS[entry["modality"]](
            spec["inputs"][name]["params"],
            bundle_dir=bundle_dir,
            shape=entry["shape"],
            dtype=entry["dtype"],
        )
        for name, entry in INPUTS.items()
    }


def featurise(
    rows: list[dict[str, str]], data_dir: Path, bundle_dir: Path, workers: int = 1
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(input name, split) -> (features, digits) of every row, in manifest order.

    Forks worker processes, so call it before TensorFlow loads.
    """
    _WORKER_STATE.update(preps=preprocessors(bundle_dir), data_dir=data_dir)
    out = {}
    splits = sorted({r["split"] for r in rows})
    # One worker computes in this process: no fork, so callers with TensorFlow loaded may use it.
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        for name, entry in INPUTS.items():
            for split in splits:
                key = (entry["modality"], split)
                mine = [r for r in rows if (r["modality"], r["split"]) == key]
                if not mine:
                    continue
                started = time.monotonic()
                jobs = [(name, r["modality"], r["item"]) for r in mine]
                done = pool.imap(_features, jobs, chunksize=32) if pool else map(_features, jobs)
                features = np.stack(list(track(done, f"{name}/{split}", total=len(jobs))))
                digits = np.array([int(r["digit"]) for r in mine], dtype=np.int64)
                out[(name, split)] = (features, digits)
                took = time.monotonic() - started
                print(f"{name}/{split}: {len(mine)} in {took:.0f} s", flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return out


def _features(job: tuple[str, str, str]) -> np.ndarray:
    """Features of one manifest item from what a client would upload: file bytes, or the text."""
    name, modality, item = job
    raw = item if modality == "text" else (_WORKER_STATE["data_dir"] / item).read_bytes()
    return _WORKER_STATE["preps"][name](raw)
