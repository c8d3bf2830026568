"""docs/bring-your-own-model.md as code: each example's blocks read from the guide and run as a
user would run them, the media a user would send, and the comparison of an answer with
``model.predict``."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "bring-your-own-model.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Example:
    """One example of the guide, built: the Keras model, its bundle and its training features."""

    name: str
    model: Any
    bundle: Path
    spec: dict[str, Any]
    training_inputs: Callable[..., dict[str, Any]]


def guide_blocks(name: str) -> tuple[str, str, str]:
    """(model code, training features code, bundle.yaml) of the example bundled as ``name``."""
    blocks = FENCE.findall(GUIDE.read_text(encoding="utf-8"))
    header = f"# my-models/{name}/1/bundle.yaml\n"
    yamls = [text for lang, text in blocks if lang == "yaml" and text.startswith(header)]
    start = next(i for i, (_, text) in enumerate(blocks) if f'Path("my-models/{name}/1")' in text)
    # The features block is the next Python block after the model's, before the bundle.yaml.
    features = next(text for lang, text in blocks[start + 1 :] if lang == "python")
    assert len(yamls) == 1 and "def training_inputs" in features, name
    return blocks[start][1], features, yamls[0]


def build(root: Path, name: str, shrink: dict[str, str] | None = None) -> Example:
    """Run the guide's code for ``name`` in ``root`` (with ``shrink``'s replacements), then write
    its bundle.yaml as shown."""
    import yaml

    model_code, features_code, bundle_yaml = guide_blocks(name)
    for old, new in (shrink or {}).items():
        assert old in model_code, f"{name}: {old!r} is no longer in the guide"
        model_code = model_code.replace(old, new)
    namespace: dict[str, Any] = {"__name__": f"guide_{name}"}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the guide runs from the repository root and writes my-models/...
        exec(compile(model_code, f"{GUIDE}:{name}", "exec"), namespace)
        exec(compile(features_code, f"{GUIDE}:{name}:features", "exec"), namespace)
    bundle = root / "my-models" / name / "1"
    (bundle / "bundle.yaml").write_text(bundle_yaml, encoding="utf-8")
    return Example(
        name, namespace["model"], bundle, yaml.safe_load(bundle_yaml), namespace["training_inputs"]
    )


def predict(example: Example, *args: Any) -> dict[str, np.ndarray]:
    """``model.predict`` on the guide's training features of one sample, keyed by output name."""
    import tensorflow as tf

    batch = {}
    for key, value in example.training_inputs(*args).items():
        value = np.asarray(value)[None]
        # Keras' predict takes strings only as tensors.
        batch[key] = tf.constant(value) if value.dtype.kind in "OSU" else value
    model = example.model
    outputs = model.predict(batch, verbose=0)  # a list-input model takes a dict by name too
    if not isinstance(outputs, dict):  # a tf.keras-style list of outputs
        outputs = dict(zip(model.output_names, outputs, strict=True))
    return {name: np.asarray(value)[0] for name, value in outputs.items()}


def labels(example: Example, output: str) -> list[str]:
    path = example.bundle / example.spec["outputs"][output]["labels"]
    return path.read_text(encoding="utf-8").splitlines()


def check_answer(example: Example, answered: dict[str, Any], want: dict[str, np.ndarray]) -> float:
    """Every output of the answer equals ``want`` (model.predict) within TOLERANCE, as its kind
    answers it; the largest difference (printed, for the parity figures)."""
    assert set(answered) == set(example.spec["outputs"]) == set(want)
    diffs = [0.0]
    for name, spec in example.spec["outputs"].items():
        got, expected = answered[name], want[name].astype(np.float64)
        kind = spec["kind"]
        if kind in ("classification", "multilabel"):
            names = labels(example, name)
            scores = [entry["score"] for entry in got]
            assert scores == sorted(scores, reverse=True), name
            diffs += [abs(e["score"] - expected[names.index(e["label"])]) for e in got]
            shown = {entry["label"] for entry in got}
            if kind == "classification":
                assert len(got) == len(names), name  # the tests ask for top_k = every label
            else:
                # Scores within the tolerance of the threshold may fall either side.
                threshold = spec.get("threshold", 0.5)
                pairs = list(zip(names, expected, strict=True))
                assert {n for n, s in pairs if s >= threshold + TOLERANCE} <= shown, name
                assert not {n for n, s in pairs if s < threshold - TOLERANCE} & shown, name
        else:
            if kind == "regression" and "names" in spec:
                assert list(got) == spec["names"], name
                got = list(got.values())
            diffs += [abs(g - e) for g, e in zip(got, expected, strict=True)]
    worst = max(diffs)
    print(f"{example.name}: max |answer - model.predict| = {worst:.2e}")
    assert worst <= TOLERANCE, (example.name, worst, answered, want)
    return worst


def noise_image(width: int, height: int, fmt: str, seed: int) -> bytes:
    """A photo-sized image of random pixels (every pixel matters to the scores) as ``fmt``."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def voice_note(rate: int, seconds: float, channels: int, seed: int) -> bytes:
    """A 16-bit WAV of two tones and some noise, different in each channel."""
    import soundfile as sf

    t = np.arange(round(rate * seconds)) / rate
    rng = np.random.default_rng(seed)
    columns = [
        0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t)
        + 0.2 * np.sin(2 * np.pi * 1500 * t)
        + 0.05 * rng.standard_normal(t.size)
        for c in range(channels)
    ]
    buf = io.BytesIO()
    sf.write(buf, np.stack(columns, axis=1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
