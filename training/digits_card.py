"""Writes the digits bundle's MODEL_CARD.md from the metrics the trainer measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training import digits_audio, digits_images
from training.digits_features import INPUTS

TARGETS = {"image": 0.90, "audio": 0.95, "text": 0.95, "image+audio": 0.97,
           "image+audio+text": 0.99}  # fmt: skip
# On real-world inputs each single modality >= 95%, fused >= 97.5%.
REAL_WORLD_TARGETS = {"single": 0.95, "fused": 0.975}
# The rows that fall short of their target, at what the shipped bundle measured: the tests hold
# them there, so a retrain may not lose ground while the target is not met. With two parts
# corrupted only one answers: the row cannot pass the mean of the single rows (its "clear alone").
REAL_WORLD_FLOORS = {"image+audio+text, 2 corrupted": 0.9635}

CARD = """\
# digits (version 1): spoken, written and typed digits, fused

Reference model of this service (AV-MNIST style). It answers one of the labels `0`-`9` from any
non-empty combination of a handwritten or photographed digit, a spoken digit ("zero" ... "nine",
alone or in a short phrase) and a typed text ("seven", "7", "sieben", "sevn", "۷", ...). A missing
modality is fed as zeros. Its scores are calibrated (temperature {temperature:.3f}, folded into the
output layer).

## Robustness on real-world inputs

A held-out set of our own, made with seeds, voices, fonts, phrases and templates that training
never uses, one condition per item ({per_condition} per condition). Alone: every item of that
condition. Fused: {fused_n} random same-digit pairings across all conditions; "k corrupted": k of
the three parts hold no digit at all (babble or noise, blank or scribbled paper, random words);
"clear alone" is the same cases with the corrupted parts absent, what no fusion can beat there.
Target: each single modality ≥ 95%, fused ≥ 97.5%. {not_met} Machine-readable: `metrics.json`
(`real_world`, `calibration`).

| input | condition | accuracy | n | ECE before → after scaling |
| --- | --- | --- | --- | --- |
{robustness}

Calibration (expected calibration error, {bins} equal-width confidence bins, on the held-out cases
above): temperature {temperature:.3f} fitted on a validation split of the training sources;
single-modality cases {ece_single_before:.2%} → {ece_single:.2%}, fused cases
{ece_fused_before:.2%} → {ece_fused:.2%}, all {ece_all_before:.2%} → {ece_all:.2%}; single-modality
cases of the earlier conditions alone (the set before busy pages, boxes, circles, ruled paper, low
light, slow, whispered and fast speech, world words, two typos and keycaps joined)
{ece_earlier_before:.2%} → {ece_earlier:.2%}.

## Clean held-out accuracy

The clean conditions of the same held-out set (image: clean scans and fonts; audio: clean; text:
words and misspellings), comparable with the held-out set of the earlier, clean-only bundle (image
97.00%, audio 97.73%, text 98.20%). Combinations: {combos} random pairings of the same digit.
`samples` is the same evaluation on the files committed in `tests/data/digits/` (real-world
examples of each kind), which `python -m training.evaluate_digits models/digits/1` recomputes.

| modalities | clean held-out accuracy | n | target | committed samples (n) |
| --- | --- | --- | --- | --- |
{table}

## Preprocessing (bundle.yaml; the same code serves and trains)

- image: `polarity: auto` (ink is whichever side of the page it is), `flatten` (uneven light
  levelled), `remove_frames: true` (ruled lines, form boxes and cells, and closed frames around
  the digit painted out), `crop: object` (the one glyph-sized object, not all the ink on the page,
  cropped with a margin and centred by mass, as MNIST was prepared), then padded to 28x28.
- audio: `trim: energy`, `window: voiced`, `duration_s: 1.5`: the 1.5 s window sits on the voiced
  part of the clip, wherever it starts; 40 log-mel bands, per-utterance normalisation.
- text: NFKC, `map_digits: true` (every Unicode decimal digit is its ASCII digit),
  `lowercase`, `number_words: numbers.tsv` (the bundle's table of number words 0-9 in 24
  languages and their scripts, with variants; each becomes its digit, and a word of 5+ letters
  within two edits of one digit's words of 5+ letters, or one edit of its 4-letter words, too;
  a swap of neighbours counts as one; 510 English words near number words stay as they are),
  `fold_punctuation: true`; characters.

## Data (all on the machine or from Debian packages; `training/make_digits_data.py`, seeded)

- **Images**: scikit-learn's 1,797 handwritten 8x8 scans, upscaled, plus digits drawn from
  {n_faces} installed font faces in {n_families} families, with shift, rotation, shear, zoom,
  stroke thickness and blur; drawn as tight scans (dark on light, or light on dark as MNIST) or as
  photos: small and off-centre in frames up to 480x360, tinted noisy paper, coloured ink,
  chalkboards, uneven light, perspective, blur, JPEG quality 30-95; and scenes: a small digit on a
  page with words, lines, boxes and arrows, in a form box or cell, circled, on ruled paper, in low
  light. **Held out**: the last {sk_pct}% of the scans (a proxy for held-out writers) and the font
  families {held_fonts}; photos in 640x480 to 1280x720 frames; scene templates and lettering
  training never uses.
- **Audio**: espeak-ng (voices {train_voices}; voice variants; {train_speeds} wpm; random pitch),
  tape-speed change up to 7%, alone or in phrases ("the number is eight", "eight please", and
  random carrier words around the digit), 0-2 s of silence either side, white/pink/brown noise
  or babble (3-6 other talkers saying sentences with no number: fixed ones and 240 random ones
  from training voices) at 0-20 dB SNR, synthetic-room reverberation (RT60 0.2-0.9 s),
  telephone band (300-3400 Hz at 8 kHz), gain -35..0 dBFS, clipping; about half of the clips are
  "hard" ones (babble or noise at 0-15 dB, or a random phrase); plus slow (80-110 wpm),
  whispered and fast (280-330 wpm) speech. **Held out**: voices
  {test_voices} and every 4th variant, at {test_speeds} wpm, phrases ("my number is ...", "... I
  think") and babble sentences and voices that training never uses; slow (70-85 wpm), whispered
  and fast (300-340 wpm) speech by those voices.
- **Text**: number words in nine languages with keyboard typos, numerals of the Unicode digit
  blocks, in templates. **Held out**: templates and misspellings never used in training, digit
  blocks training never shows (Persian, Devanagari, Bengali, Thai, Tamil, mathematical, ...),
  number words of other scripts (Russian, Arabic, Hindi, Japanese, ...; written apart from the
  bundle's table), words with two typos, keycap emoji and full-width digits.

## Model and training (`training/train_digits.py`, seeded, CPU)

- Inputs: {inputs}.
- Towers: image CNN (3 conv+pool, dense 128; in training half the 28x28 crops are seen at an
  angle, each corner moved up to 12% of the side); audio temporal CNN over log-mel frames (4
  Conv1D, batch normalisation, global max+average pooling, dense 128; in training half the clips
  are played 0.7-1.45x as fast, frames resampled about the window's centre, then SpecAugment: two
  runs of up to 7 bands and two of up to 19 frames masked per example); text char embedding +
  2 Conv1D + global max pooling (dense 64). Fusion: concatenation, dropout, dense 128, softmax
  over 10 digits. {params:,} parameters.
- The audio and image towers are first trained alone ({audio_epochs} and {image_epochs} epochs
  over every training item, under their own softmax), then kept fixed in fused training (half of
  the fused examples have no clip, fed as zeros, which would skew the audio tower's batch
  normalisation statistics). Items with no digit join each epoch (5%) with a uniform target.
- Each example pairs a random image, clip and text of the same digit; modality dropout keeps one
  modality (45% of examples), two (30%) or all three (25%) and zeroes the rest exactly as the
  service does for an absent part; in {corrupt_pct}% of the examples with two or three parts, one
  or two of them (never all) are swapped for an item with no digit, so the fused head learns to
  trust the clear part; in 5% of all examples every kept part is, and the target is uniform.
  Adam, cosine-decayed learning rate from 2e-3, {epochs} epochs of {examples_per_epoch:,}
  pairings, batch 64. Temperature scaling on the validation split.
- {data_line}feature extraction {featurise_s} s, training {train_s} s on {machine}.{history}

## Rebuild

```
apt-get install espeak-ng fonts-...   # see training/make_digits_data.py for the font list
.venv/bin/python -m training.make_digits_data build/digits --samples tests/data/digits
.venv/bin/python -m training.train_digits --data build/digits --out models/digits/1
```

`--start-from models/digits/1/model.keras --keep text` trains on from the bundle's weights with its
text tower kept; `--model models/digits/1/model.keras` trains nothing and rescores them.

## Limits

Synthetic speech (one synthesiser) and font-drawn digits stand in for real recordings and photos:
expect lower accuracy on human voices and real phone photos than the table shows. Speech must fit
in 1.5 s (a longer phrase loses its start or end, and speech slower than about 70 wpm does not
fit); an image should show one digit.
"""


def real_world_target(key: str) -> float:
    """The target of a modality or fused row of ``real_world`` (a single modality has no "+")."""
    return REAL_WORLD_TARGETS["fused" if "+" in key else "single"]


def _not_met(real_world: dict[str, Any]) -> str:
    short = [
        f"{key} {r['accuracy']:.2%}"
        for key, r in real_world.items()
        if "/" not in key and r["accuracy"] < real_world_target(key)
    ]
    return f"Not met: {', '.join(short)}." if short else "Met on every row."


def _robustness_rows(real_world: dict[str, Any]) -> list[str]:
    rows = []
    for key, r in real_world.items():
        name, _, condition = key.partition("/")
        if not condition:
            condition = "all conditions" if "+" not in name else "all conditions, fused"
            if "corrupted" in name:
                name, condition = name.split(", ")
                condition += f" (clear alone: {r['clear_alone']:.2%})"
            name = f"**{name}**"
        rows.append(
            f"| {name} | {condition} | {r['accuracy']:.2%} | {r['n']} | "
            f"{r['ece_uncalibrated']:.2%} → {r['ece']:.2%} |"
        )
    return rows


def _history(info: dict[str, Any]) -> str:
    """Card lines on where the weights came from, when not from this run's training alone."""
    lines = ""
    if info.get("started_from"):
        kept = info["kept"]
        lines += f"\n- Trained on from the weights of {info['started_from']}"
        if kept:
            towers = " and ".join([", ".join(kept[:-1]), kept[-1]] if len(kept) > 1 else kept)
            plural = "s" if len(kept) > 1 else ""
            lines += f", its {towers} tower{plural} kept as there (trained in earlier runs)"
        lines += "."
    if "weights_from" in info:
        lines += (
            f"\n- Then, with no retraining (`--model {info['weights_from']}`), rescored through the"
            " preprocessing above and its temperature fitted again"
            f" (×{info['temperature_refit']:.3f} on the one its weights carried; ECE before scaling"
            f" is of those weights as they came): {info['rescore_s']} s. The figures above are"
            " from that run."
        )
    return lines


def write(bundle_dir: Path, metrics: dict[str, Any]) -> None:
    """Write MODEL_CARD.md into ``bundle_dir``."""
    held_out, samples, info = metrics["held_out"], metrics["samples"], metrics["training"]
    calibration, real_world = metrics["calibration"], metrics["real_world"]
    rows = []
    for key, result in held_out.items():
        target = TARGETS.get(key)
        sample = samples.get(key)
        on_samples = f"{sample['accuracy']:.2%} ({sample['n']})" if sample else "-"
        rows.append(
            f"| {key} | {result['accuracy']:.2%} | {result['n']} | "
            f"{f'≥ {target:.0%}' if target else '-'} | {on_samples} |"
        )
    faces = digits_images.font_faces()
    text = CARD.format(
        temperature=calibration["temperature"],
        per_condition=next(r["n"] for k, r in real_world.items() if k.startswith("image/")),
        fused_n=real_world["image+audio+text"]["n"],
        robustness="\n".join(_robustness_rows(real_world)),
        not_met=_not_met(real_world),
        bins=calibration["bins"],
        ece_single_before=calibration["single"]["ece_uncalibrated"],
        ece_single=calibration["single"]["ece"],
        ece_fused_before=calibration["fused"]["ece_uncalibrated"],
        ece_fused=calibration["fused"]["ece"],
        ece_all_before=calibration["all"]["ece_uncalibrated"],
        ece_all=calibration["all"]["ece"],
        ece_earlier_before=calibration["single_earlier_conditions"]["ece_uncalibrated"],
        ece_earlier=calibration["single_earlier_conditions"]["ece"],
        combos=next(r["n"] for k, r in held_out.items() if "+" in k),
        table="\n".join(rows),
        n_faces=len(faces),
        n_families=len({family for family, _ in faces}),
        sk_pct=round(100 * digits_images.SKLEARN_TEST_FRACTION),
        held_fonts=", ".join(digits_images.HELD_OUT_FAMILIES),
        train_voices=", ".join(digits_audio.TRAIN_VOICES),
        test_voices=", ".join(digits_audio.TEST_VOICES),
        train_speeds="/".join(map(str, digits_audio.TRAIN_SPEEDS)),
        test_speeds="/".join(map(str, digits_audio.TEST_SPEEDS)),
        inputs="; ".join(f"`{n}` {s['shape']} {s['dtype']}" for n, s in INPUTS.items()),
        corrupt_pct=round(100 * info["corrupt_fraction"]),
        data_line=f"Data generation {info['data_s']} s, " if "data_s" in info else "",
        history=_history(info),
        **info,
    )
    (bundle_dir / "MODEL_CARD.md").write_text(text, encoding="utf-8")
