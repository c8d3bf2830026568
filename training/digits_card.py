"""Writes the digits bundle's MODEL_CARD.md from the metrics the trainer measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training import digits_audio, digits_images
from training.digits_features import INPUTS

TARGETS = {"image": 0.90, "audio": 0.95, "text": 0.95, "image+audio": 0.97,
           "image+audio+text": 0.99}  # fmt: skip

CARD = """\
# digits (version 1): spoken, written and typed digits, fused

Reference model of this service (AV-MNIST style). It answers one of the labels `0`-`9` from any
non-empty combination of a handwritten-digit image, a spoken digit ("zero" ... "nine") and a typed
text ("seven", "7", "sieben", "sevn", ...). A missing modality is fed as zeros.

## Held-out accuracy

Measured once, after training, on data held out by source (nothing below was used for training).
Single modalities: every held-out item. Combinations: {combos} random pairings of held-out items
of the same digit. Machine-readable copy: `metrics.json` (`held_out`; `samples` is the same
evaluation on the files committed in `tests/data/digits/`, which
`python -m training.evaluate_digits models/digits/1` recomputes).

| modalities | held-out accuracy | n | target | committed samples (n) |
| --- | --- | --- | --- | --- |
{table}

Single modalities by kind of held-out source:

| source | accuracy | n |
| --- | --- | --- |
{sources}

## Data (all on the machine or from Debian packages; `training/make_digits_data.py`, seeded)

- **Images**: scikit-learn's 1,797 handwritten 8x8 scans (0-16 ink), upscaled, plus digits drawn
  from {n_faces} installed font faces in {n_families} families (DejaVu, Liberation, URW, and
  handwriting fonts such as Breip, DkgHandwriting, Because We ...), with shift, rotation, shear,
  zoom, stroke thickness, blur, paper/ink contrast and noise; stored as dark-ink-on-light PNGs of
  28-64 px.
  **Held out**: the last {sk_pct}% of the scans as one contiguous block (the rows are grouped by
  writer but writer ids are not published, so this is a proxy for held-out writers; shown
  unaugmented), and all faces of the font families {held_fonts}.
- **Audio**: the English words spoken by espeak-ng (voices {train_voices}; about 75 voice
  variants; speeds {train_speeds} wpm; random pitch), trimmed, tape-speed changed by up to 7%,
  gain -30 to -1 dBFS, random lead-in, white/pink/brown noise at 30/20/10 dB SNR or none, some
  stored at 22.05 or 44.1 kHz. **Held out**: voices {test_voices} (any variant), and every 4th
  variant by name with any voice, all at speeds {test_speeds} wpm that training never uses.
- **Text**: number words in English, German, French, Spanish, Italian, Portuguese, Dutch, Swedish
  and Polish (with and without accents), numerals (ASCII, fullwidth, CJK, Arabic-Indic), in
  templates ("number seven", "the digit 7", "Seven.") with keyboard typos. **Held out**: templates
  never used in training ("it is a ...", "answer: ...", "..., please") and misspellings that no
  training text contains; no held-out text occurs in training.

## Model and training (`training/train_digits.py`, seeded, CPU)

- Inputs: {inputs}.
- Towers: image CNN (3 conv+pool, dense 128); audio temporal CNN over log-mel frames (4 Conv1D,
  global max+average pooling, dense 128); text char embedding + 2 Conv1D + global max pooling
  (dense 64). Fusion: concatenation, dropout, dense 128, softmax over 10 digits.
  {params:,} parameters.
- Features for training come from the service's own preprocessors applied to the stored files.
- Each example pairs a random image, clip and text of the same digit; modality dropout keeps one
  modality (45% of examples), two (30%) or all three (25%) and zeroes the rest exactly as the
  service does for an absent part. Adam, cosine-decayed learning rate from 2e-3,
  {epochs} epochs of {examples_per_epoch:,} pairings, batch 64.
- Feature extraction {featurise_s} s, training {train_s} s on {machine}.

## Rebuild

```
apt-get install espeak-ng fonts-...   # see training/make_digits_data.py for the font list
.venv/bin/python -m training.make_digits_data build/digits --samples tests/data/digits
.venv/bin/python -m training.train_digits --data build/digits --out models/digits/1
```

## Limits

Synthetic speech (one synthesiser) and font-drawn digits stand in for real recordings and photos:
expect lower accuracy on human voices, on noisy microphones and on digits photographed small
or off-centre. Audio longer than 1 s is cut after the first second; the word should start early.
Images should show one digit, roughly centred, dark on light.
"""


def write(bundle_dir: Path, metrics: dict[str, Any]) -> None:
    """Write MODEL_CARD.md into ``bundle_dir``."""
    held_out, samples, info = metrics["held_out"], metrics["samples"], metrics["training"]
    rows = []
    for key, result in held_out.items():
        target = TARGETS.get(key)
        rows.append(
            f"| {key} | {result['accuracy']:.2%} | {result['n']} | "
            f"{f'≥ {target:.0%}' if target else '-'} | "
            f"{samples[key]['accuracy']:.2%} ({samples[key]['n']}) |"
        )
    faces = digits_images.font_faces()
    text = CARD.format(
        combos=next(r["n"] for k, r in held_out.items() if "+" in k),
        table="\n".join(rows),
        sources="\n".join(
            f"| {key} | {r['accuracy']:.2%} | {r['n']} |"
            for key, r in metrics["held_out_by_source"].items()
        ),
        n_faces=len(faces),
        n_families=len({family for family, _ in faces}),
        sk_pct=round(100 * digits_images.SKLEARN_TEST_FRACTION),
        held_fonts=", ".join(digits_images.HELD_OUT_FAMILIES),
        train_voices=", ".join(digits_audio.TRAIN_VOICES),
        test_voices=", ".join(digits_audio.TEST_VOICES),
        train_speeds="/".join(map(str, digits_audio.TRAIN_SPEEDS)),
        test_speeds="/".join(map(str, digits_audio.TEST_SPEEDS)),
        inputs="; ".join(f"`{n}` {s['shape']} {s['dtype']}" for n, s in INPUTS.items()),
        **info,
    )
    (bundle_dir / "MODEL_CARD.md").write_text(text, encoding="utf-8")
