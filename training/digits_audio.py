"""Spoken digits as WAV files: "zero" ... "nine" said by espeak-ng, then augmented.

Needs the ``espeak-ng`` program (Debian/Ubuntu: ``apt-get install espeak-ng``) only to rebuild the
data. Held out by source: the test clips come from voices (accents) in ``TEST_VOICES`` or voice
variants that no training clip uses, at speaking speeds no training clip uses, so no
(voice, variant, speed) of a test clip occurs in training.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TRAIN_VOICES = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-us-nyc")
TEST_VOICES = ("en-029", "en-gb-x-gbcwmd")
TRAIN_SPEEDS = (120, 140, 160, 180, 200, 230, 260)  # words per minute
TEST_SPEEDS = (130, 170, 215)
HELD_OUT_VARIANT_EVERY = 4  # every 4th variant (sorted by name) is held out
TRAIN_RENDITIONS = 2  # clips per training (voice, variant, digit)
TEST_CLIPS_PER_DIGIT = 150
RATE = 16_000
MAX_WORD_S = 0.95  # the bundle keeps the first 1.0 s, so the word must fit with a little lead-in
SNR_DB = (None, 30.0, 20.0, 10.0)
SNR_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
OTHER_RATES = (22_050, 44_100)  # some files are stored at these rates, to exercise resampling


@dataclass(frozen=True)
class Clip:
    """One clip to synthesise: who says which digit how, and its augmentation seed."""

    split: str
    digit: int
    voice: str
    variant: str
    speed: int
    pitch: int
    seed: int

    @property
    def name(self) -> str:
        variant = self.variant or "plain"
        return f"{self.voice}+{variant}_s{self.speed}_p{self.pitch}_{self.digit}_{self.seed}"


def require_espeak() -> str:
    """The espeak-ng executable, or exit saying how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise SystemExit(
            "espeak-ng is not installed; it is needed (only) to rebuild the spoken digits.\n"
            "Install it with: apt-get update && apt-get install -y espeak-ng"
        )
    return path


def variants() -> list[str]:
    """The names of espeak-ng's voice variants (``+name``), sorted."""
    listing = subprocess.run(
        ["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True
    ).stdout
    files = [line.split("!v/", 1)[1] for line in listing.splitlines() if "!v/" in line]
    names = {re.split(r"\s{2,}", file.strip())[0] for file in files}
    return sorted((n for n in names if " " not in n), key=str.lower)  # "+Mr serious" won't parse


def plan_clips(seed: int) -> list[Clip]:
    """Every clip of the data set, train and test, reproducibly from ``seed``."""
    rng = np.random.default_rng(seed)
    names = variants()
    held_out = set(names[HELD_OUT_VARIANT_EVERY - 1 :: HELD_OUT_VARIANT_EVERY])
    train_variants = [""] + [v for v in names if v not in held_out]
    clips = []
    for voice in TRAIN_VOICES:
        for variant in train_variants:
            for digit in range(10):
                for _ in range(TRAIN_RENDITIONS):
                    speed = int(rng.choice(TRAIN_SPEEDS))
                    pitch = int(rng.integers(20, 81))
                    clips.append(Clip("train", digit, voice, variant, speed, pitch, len(clips)))
    # A test source has a held-out voice, a held-out variant, or both.
    sources = [(v, w) for v in TEST_VOICES for w in [""] + names]
    sources += [(v, w) for v in TRAIN_VOICES for w in sorted(held_out)]
    for digit in range(10):
        for i in rng.choice(len(sources), TEST_CLIPS_PER_DIGIT, replace=False):
            voice, variant = sources[i]
            speed, pitch = int(rng.choice(TEST_SPEEDS)), int(rng.integers(20, 81))
            clips.append(Clip("test", digit, voice, variant, speed, pitch, len(clips)))
    return clips


def _speak(clip: Clip, speed: int, workdir: Path) -> tuple[np.ndarray, int]:
    voice = f"{clip.voice}+{clip.variant}" if clip.variant else clip.voice
    out = workdir / "say.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(clip.pitch), "-w", str(out),
         WORDS[clip.digit]],
        check=True, capture_output=True,
    )  # fmt: skip
    samples, rate = sf.read(out, dtype="float32")
    return samples, rate


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n).astype(np.float32)
    colour = rng.choice(("white", "pink", "brown"))
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.maximum(np.arange(spectrum.size), 1)
    spectrum /= np.sqrt(freqs) if colour == "pink" else freqs
    return np.fft.irfft(spectrum, n).astype(np.float32)


def render(clip: Clip) -> bytes:
    """Synthesise and augment one clip; returns the WAV file's bytes."""
    rng = np.random.default_rng(clip.seed)
    stretch = rng.uniform(0.93, 1.07)  # tape-speed change: tempo and pitch together
    speed = clip.speed
    with tempfile.TemporaryDirectory() as tmp:
        while True:
            samples, rate = _speak(clip, speed, Path(tmp))
            word, _ = librosa.effects.trim(samples, top_db=40)
            word = soxr.resample(word, rate * stretch, RATE)
            if len(word) <= MAX_WORD_S * RATE:
                break
            speed += 20  # a slow variant overran the window: say it faster
    word = word / max(float(np.abs(word).max()), 1e-6) * 10 ** (rng.uniform(-30, -1) / 20)
    room = RATE - len(word)
    lead = int(rng.uniform(0, min(0.3 * RATE, room)))
    tail = int(rng.uniform(0.02 * RATE, max(0.02 * RATE, min(0.25 * RATE, room - lead))))
    audio = np.concatenate([np.zeros(lead), word, np.zeros(tail)]).astype(np.float32)
    snr = SNR_DB[rng.choice(len(SNR_DB), p=SNR_WEIGHTS)]
    if snr is not None:
        noise = _noise(len(audio), rng)
        speech_power = float(np.mean(word**2))
        audio += noise * np.sqrt(speech_power / 10 ** (snr / 10) / float(np.mean(noise**2)))
    out_rate = RATE if rng.random() < 0.8 else int(rng.choice(OTHER_RATES))
    if out_rate != RATE:
        audio = soxr.resample(audio, RATE, out_rate)
    audio = audio / max(1.0, float(np.abs(audio).max()) / 0.99)
    buffer = io.BytesIO()
    sf.write(buffer, audio, out_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
