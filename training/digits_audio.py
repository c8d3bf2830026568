"""Spoken digits as WAV files: "zero" ... "nine" said by espeak-ng, then made to sound real.

Needs the ``espeak-ng`` program (Debian/Ubuntu: ``apt-get install espeak-ng``) only to rebuild the
data. Training clips are augmented the way users' recordings differ: voices, rates and pitches;
white/pink/brown noise or babble (other speech, never a digit) at 0-20 dB SNR; reverberation;
telephone band; gain -35..0 dBFS; clipping; silence up to 2 s either side; the digit inside a short
phrase. A modest extra share of training clips is said the way talkers differ most: slowly
(down to 80 wpm), whispered, or fast. Held out by source: the real-world test clips (one condition
each, ``TEST_CONDITIONS``) come from voices (accents) in ``TEST_VOICES`` or voice variants that no
training clip uses, at speaking speeds, phrases and babble sentences that training never uses; the
talker conditions (``TALKER_CONDITIONS``: slow, whispered, fast) are drawn after the others from
their own random stream, so adding them left every earlier clip as it was.
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
import scipy.signal
import soundfile as sf
import soxr

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TRAIN_VOICES = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-us-nyc")
TEST_VOICES = ("en-029", "en-gb-x-gbcwmd")
TRAIN_SPEEDS = (120, 140, 160, 180, 200, 230, 260)  # words per minute
TEST_SPEEDS = (130, 170, 215)
MIN_ESPEAK_SPEED = 80  # espeak-ng says nothing slower: below it, speech is time-stretched
# Talker conditions: slow and fast speech, whispering (espeak-ng's whisper variants; training
# voices say them in training, only TEST_VOICES in the held-out "whispered" condition).
TRAIN_SLOW_SPEEDS = (80, 90, 100, 110)
TEST_SLOW_SPEEDS = (70, 75, 85)  # "slow_speech"
TRAIN_FAST_SPEEDS = (280, 295, 310, 330)
TEST_FAST_SPEEDS = (300, 320, 340)  # "fast_speech"
WHISPER_VARIANTS = ("whisper", "whisperf")
# Extra training clips per (training voice, digit), random training augmentation on top.
TALKER_CLIPS_PER_VOICE_DIGIT = {"slow": 20, "whispered": 20, "fast": 8}
HELD_OUT_VARIANT_EVERY = 4  # every 4th variant (sorted by name) is held out
TRAIN_CLIPS_PER_VOICE_DIGIT = 200  # random train variants per (voice, digit)
HARD_CLIPS_PER_VOICE_DIGIT = 200  # more, in babble or noise or a random phrase (condition "hard")
VAL_FRACTION = 0.08  # of the training sources' clips, kept for temperature scaling
RATE = 16_000
MAX_SPEECH_S = 1.45  # the bundle's voiced window is 1.5 s: a phrase must fit in it
MAX_SILENCE_S = 2.0
TRAIN_PHRASES = (
    "{w}", "{w}", "{w}", "the number is {w}", "{w} please", "number {w}", "it's {w}",
    "{w} thanks", "press {w}", "that's {w}", "{w} okay",
)  # fmt: skip
TEST_PHRASES = ("my number is {w}", "{w} I think", "the answer is {w}", "um {w}", "digit {w}")
# Carrier words for random training phrases: no digit, no near-homophone of one ("to", "for",
# "won", "ate", "oh"), and none of the held-out phrases' own words ("my", "answer", "think", "um").
CARRIER_WORDS = (
    "please", "okay", "thanks", "press", "number", "it's", "that's", "the", "is", "code", "room",
    "floor", "page", "pick", "choose", "say", "call", "dial", "enter", "type", "select", "option",
    "channel", "level", "seat", "gate", "bus", "line", "row", "box", "item", "card", "now", "so",
    "well", "yes", "right", "and", "just", "maybe", "again", "actually", "hello", "hey", "sure",
    "uh", "er", "alright", "go", "with", "we", "need", "you", "want", "take", "try", "hmm",
)  # fmt: skip
# Babble sentences for training are drawn at random from these everyday words (no digit words).
BABBLE_WORDS = (
    "where", "did", "you", "put", "keys", "it", "is", "raining", "again", "today", "can", "pass",
    "me", "salt", "we", "should", "leave", "before", "traffic", "meeting", "moved", "afternoon",
    "really", "like", "this", "song", "turn", "left", "at", "next", "corner", "she", "said",
    "would", "call", "back", "coffee", "here", "strong", "let", "check", "calendar", "how", "was",
    "your", "weekend", "train", "late", "morning", "see", "game", "last", "night", "please",
    "close", "window", "what", "time", "does", "shop", "open", "brother", "lives", "in", "town",
    "yesterday", "market", "bread", "cheese", "friend", "office", "walk", "dog", "park", "cold",
    "warm", "weather", "movie", "book", "reading", "story", "phone", "battery", "charger",
    "kitchen", "table", "chair", "doctor", "appointment", "tomorrow", "bring", "jacket", "rain",
    "sun", "bicycle", "car", "road", "busy", "quiet", "music", "loud", "party", "birthday",
    "cake", "holiday", "beach", "mountain", "river", "bridge", "city", "village", "school",
    "teacher", "lesson", "homework", "computer", "email", "message", "letter", "answer", "told",
    "about", "maybe", "later", "soon", "never", "always", "often", "sometimes", "and", "but",
    "because", "so", "very", "quite", "little", "big", "small", "new", "old", "good", "bad",
)  # fmt: skip
TRAIN_BABBLE_SENTENCES = 240  # random sentences of BABBLE_WORDS, each said by one training voice
# Babble: sentences with no number in them, said by other voices; test babble never trains.
TRAIN_BABBLE = (
    "where did you put the keys", "it is raining again today", "can you pass me the salt",
    "we should leave before the traffic", "the meeting moved to the afternoon",
    "I really like this song", "turn left at the next corner", "she said she would call back",
    "the coffee here is too strong", "let me check my calendar", "how was your weekend",
    "the train was late this morning", "did you see the game last night",
    "please close the window", "what time does the shop open", "my brother lives in town",
)  # fmt: skip
TEST_BABBLE = (
    "the garden needs some water", "have you finished the report", "dinner is almost ready",
    "I lost my umbrella on the bus", "they are painting the kitchen", "is this seat taken",
    "the children are playing outside", "we ran out of milk",
)  # fmt: skip
BABBLE_VOICES = {
    "train": ("en-us+f2", "en-gb+m4", "en-gb-scotland+f4", "en-us-nyc+m2", "en-gb-x-rp+f1",
              "en-gb-x-gbclan+m6"),
    "test": ("en-029+f3", "en-gb-x-gbcwmd+m5", "en-us+klatt", "en-gb+croak"),
}  # fmt: skip
# Real-world held-out conditions, each with test_clips_per_digit() clips per digit.
RECORDING_CONDITIONS = (
    "clean", "late_start", "in_phrase", "babble_5_10db", "noise_5_10db", "reverb", "telephone",
    "quiet_-35dbfs", "clipped",
)  # fmt: skip
TALKER_CONDITIONS = ("slow_speech", "whispered", "fast_speech")  # recorded as "clean" is
TEST_CONDITIONS = RECORDING_CONDITIONS + TALKER_CONDITIONS
# Clips with no digit at all (babble or noise only): the corruption that replaces a modality.
NOISE_ONLY_CLIPS = {"train": 300, "test": 100}


@dataclass(frozen=True)
class Clip:
    """One clip to synthesise: who says which digit how, its condition and augmentation seed."""

    split: str
    digit: int  # -1: no digit, noise or babble only
    voice: str
    variant: str
    speed: int
    pitch: int
    seed: int
    condition: str = "train"  # "train" (random augmentation) or one of TEST_CONDITIONS

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


def held_out_variants(names: list[str]) -> set[str]:
    """The variants (of ``variants()``) only held-out clips use: every HELD_OUT_VARIANT_EVERY-th."""
    return set(names[HELD_OUT_VARIANT_EVERY - 1 :: HELD_OUT_VARIANT_EVERY])


def plan_clips(seed: int, scale: float = 1.0) -> list[Clip]:
    """Every clip of the data set (train, val, test, noise-only), reproducibly from ``seed``.

    ``scale`` shrinks every count (at least one clip per digit and condition), for quick runs.
    """
    rng = np.random.default_rng(seed)
    names = variants()
    held_out = held_out_variants(names)
    train_variants = [""] + [v for v in names if v not in held_out]
    per_voice = max(1, round(TRAIN_CLIPS_PER_VOICE_DIGIT * scale))
    clips: list[Clip] = []

    def add(split: str, digit: int, voice: str, variant: str, speeds, condition: str) -> None:
        speed, pitch = int(rng.choice(speeds)), int(rng.integers(20, 81))
        clips.append(Clip(split, digit, voice, variant, speed, pitch, len(clips), condition))

    for voice in TRAIN_VOICES:
        for digit in range(10):
            for _ in range(per_voice):
                split = "val" if rng.random() < VAL_FRACTION else "train"
                add(split, digit, voice, str(rng.choice(train_variants)), TRAIN_SPEEDS, "train")
    # A test source has a held-out voice, a held-out variant, or both.
    sources = [(v, w) for v in TEST_VOICES for w in [""] + names]
    sources += [(v, w) for v in TRAIN_VOICES for w in sorted(held_out)]
    per_condition = max(1, round(test_clips_per_digit() * scale))
    for condition in RECORDING_CONDITIONS:
        for digit in range(10):
            for i in rng.choice(len(sources), per_condition, replace=False):
                add("test", digit, *sources[i], TEST_SPEEDS, condition)
    for split, count in NOISE_ONLY_CLIPS.items():
        for _ in range(max(2, round(count * scale))):
            add(split, -1, "none", "", TRAIN_SPEEDS, split)
    # Drawn from a second generator and appended, so the clips above (the held-out set) stay put.
    rng = np.random.default_rng([seed, 1])
    for voice in TRAIN_VOICES:
        for digit in range(10):
            for _ in range(max(1, round(HARD_CLIPS_PER_VOICE_DIGIT * scale))):
                add("train", digit, voice, str(rng.choice(train_variants)), TRAIN_SPEEDS, "hard")
    clips += talker_test_clips(seed, scale, start=len(clips))
    # The talker share of training, from a stream of its own (training voices only).
    rng = np.random.default_rng([seed, 4])
    talker = {
        "slow": (train_variants, TRAIN_SLOW_SPEEDS),
        "whispered": (list(WHISPER_VARIANTS), TRAIN_SPEEDS),
        "fast": (train_variants, TRAIN_FAST_SPEEDS),
    }
    for kind, count in TALKER_CLIPS_PER_VOICE_DIGIT.items():
        kind_variants, speeds = talker[kind]
        for voice in TRAIN_VOICES:
            for digit in range(10):
                for _ in range(max(1, round(count * scale))):
                    add("train", digit, voice, str(rng.choice(kind_variants)), speeds, "train")
    return clips


def talker_test_clips(seed: int, scale: float = 1.0, start: int = 0) -> list[Clip]:
    """The held-out clips of TALKER_CONDITIONS, their seeds counted from ``start`` (where
    ``plan_clips`` puts them). Slow and fast speech: held-out sources at TEST_SLOW_SPEEDS and
    TEST_FAST_SPEEDS; whispered: TEST_VOICES with WHISPER_VARIANTS."""
    rng = np.random.default_rng([seed, 3])
    names = variants()
    held_out = held_out_variants(names)
    sources = [(v, w) for v in TEST_VOICES for w in [""] + names]
    sources += [(v, w) for v in TRAIN_VOICES for w in sorted(held_out)]
    whisper = [(v, w) for v in TEST_VOICES for w in WHISPER_VARIANTS]
    plan = {
        "slow_speech": (sources, TEST_SLOW_SPEEDS),
        "whispered": (whisper, TEST_SPEEDS),
        "fast_speech": (sources, TEST_FAST_SPEEDS),
    }
    per_condition = max(1, round(test_clips_per_digit() * scale))
    clips: list[Clip] = []
    for condition in TALKER_CONDITIONS:
        condition_sources, speeds = plan[condition]
        for digit in range(10):
            # Few whisper sources: they repeat, at other speeds and pitches.
            replace = len(condition_sources) < per_condition
            for i in rng.choice(len(condition_sources), per_condition, replace=replace):
                voice, variant = condition_sources[i]
                speed, pitch = int(rng.choice(speeds)), int(rng.integers(20, 81))
                seed_ = start + len(clips)
                clip = Clip("test", digit, voice, variant, speed, pitch, seed_, condition)
                clips.append(clip)
    return clips


def test_clips_per_digit() -> int:
    """Held-out clips per digit and condition."""
    return 15


def _speak(voice: str, speed: int, pitch: int, text: str, workdir: Path) -> np.ndarray:
    """espeak-ng's rendition of ``text`` at RATE, silence trimmed.

    Below MIN_ESPEAK_SPEED wpm (espeak-ng's slowest) it is said at that speed and time-stretched,
    pitch kept, to ``speed``.
    """
    out = workdir / "say.wav"
    said = str(max(speed, MIN_ESPEAK_SPEED))
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", said, "-p", str(pitch), "-w", str(out), text],
        check=True, capture_output=True,
    )  # fmt: skip
    samples, rate = sf.read(out, dtype="float32")
    speech, _ = librosa.effects.trim(samples, top_db=40)
    if speed < MIN_ESPEAK_SPEED:
        speech = librosa.effects.time_stretch(speech, rate=speed / MIN_ESPEAK_SPEED)
    return soxr.resample(speech, rate, RATE)


_BABBLE: dict[str, list[np.ndarray]] = {}  # split -> utterances; filled before workers fork


def prepare_babble(seed: int = 0, scale: float = 1.0) -> None:
    """Render the babble utterances once (call before forking the workers that mix them).

    Training babble adds TRAIN_BABBLE_SENTENCES random sentences, each said by a random training
    voice and variant, so the model cannot learn a few babble recordings by heart; ``scale``
    shrinks their number as in ``plan_clips``.
    """
    rng = np.random.default_rng([seed, 2])
    names = variants()
    held_out = held_out_variants(names)
    train_variants = [v for v in names if v not in held_out]
    with tempfile.TemporaryDirectory() as tmp:
        for split, sentences in (("train", TRAIN_BABBLE), ("test", TEST_BABBLE)):
            _BABBLE[split] = [
                _speak(voice, 150 + 10 * (i % 5), 30 + 7 * (i % 7), sentence, Path(tmp))
                for i, sentence in enumerate(sentences)
                for voice in BABBLE_VOICES[split][i % 2 :: 2]
            ]
        for _ in range(max(2, round(TRAIN_BABBLE_SENTENCES * scale))):
            words = rng.choice(BABBLE_WORDS, size=int(rng.integers(4, 9)))
            voice = f"{rng.choice(TRAIN_VOICES)}+{rng.choice(train_variants)}"
            speed, pitch = int(rng.integers(130, 211)), int(rng.integers(10, 91))
            _BABBLE["train"].append(_speak(voice, speed, pitch, " ".join(words), Path(tmp)))


def _babble(n: int, split: str, rng: np.random.Generator) -> np.ndarray:
    """Three to six talkers at once, each looping its sentence from a random point."""
    utterances = _BABBLE["test" if split == "test" else "train"]
    out = np.zeros(n, dtype=np.float32)
    for _ in range(int(rng.integers(3, 7))):
        speech = utterances[int(rng.integers(len(utterances)))]
        speech = speech / max(float(np.sqrt(np.mean(speech**2))), 1e-6)
        looped = np.tile(np.concatenate([speech, np.zeros(int(0.2 * RATE))]), n // len(speech) + 2)
        start = int(rng.integers(len(looped) - n))
        out += looped[start : start + n] * rng.uniform(0.5, 1.0)
    return out


def _coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n).astype(np.float32)
    colour = rng.choice(("white", "pink", "brown"))
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.maximum(np.arange(spectrum.size), 1)
    spectrum /= np.sqrt(freqs) if colour == "pink" else freqs
    return np.fft.irfft(spectrum, n).astype(np.float32)


def _add_noise(audio: np.ndarray, speech_power: float, snr_db: float, kind: str,
               split: str, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    noise = (
        _babble(len(audio), split, rng) if kind == "babble" else _coloured_noise(len(audio), rng)
    )
    scale = np.sqrt(speech_power / 10 ** (snr_db / 10) / max(float(np.mean(noise**2)), 1e-12))
    return audio + noise * scale


def _reverb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room: noise decaying exponentially to -60 dB at RT60."""
    rt60 = rng.uniform(0.2, 0.9)
    t = np.arange(int(rt60 * RATE)) / RATE
    rir = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)
    rir[0] = 1.0 / rng.uniform(0.3, 1.0)  # the direct path
    wet = scipy.signal.fftconvolve(audio, rir)[: len(audio)]
    return (wet / max(float(np.abs(wet).max()), 1e-9) * float(np.abs(audio).max())).astype(
        np.float32
    )


def _telephone(audio: np.ndarray) -> np.ndarray:
    """300-3400 Hz band, as a phone line carries it (stored at 8 kHz by the caller)."""
    sos = scipy.signal.butter(4, (300, 3400), btype="bandpass", fs=RATE, output="sos")
    return scipy.signal.sosfilt(sos, audio).astype(np.float32)


def _augmentation(clip: Clip, rng: np.random.Generator) -> dict:
    """What happens to a clip: random for training, fixed by the condition for a test clip."""
    if clip.condition == "hard":
        return {
            "phrase": rng.random() < 0.5,
            "lead_s": rng.uniform(0, MAX_SILENCE_S) if rng.random() < 0.3 else rng.uniform(0, 0.3),
            "tail_s": rng.uniform(0, 0.3),
            "noise": ("white", "babble", None)[int(rng.choice(3, p=(0.25, 0.55, 0.2)))],
            "snr_db": rng.uniform(0, 15),
            "reverb": rng.random() < 0.2,
            "telephone": rng.random() < 0.15,
            "clip": rng.random() < 0.1,
            "gain_dbfs": rng.uniform(-35, 0),
        }
    if clip.condition in ("train", "val"):
        noisy = rng.random() < 0.6
        return {
            "phrase": rng.random() < 0.35,
            "lead_s": rng.uniform(0, MAX_SILENCE_S) if rng.random() < 0.5 else rng.uniform(0, 0.3),
            "tail_s": rng.uniform(0, MAX_SILENCE_S) if rng.random() < 0.3 else rng.uniform(0, 0.3),
            "noise": str(rng.choice(("white", "babble"), p=(0.35, 0.65))) if noisy else None,
            "snr_db": rng.uniform(0, 20),
            "reverb": rng.random() < 0.25,
            "telephone": rng.random() < 0.15,
            "clip": rng.random() < 0.1,
            "gain_dbfs": rng.uniform(-35, 0),
        }
    c = clip.condition
    return {
        "phrase": c == "in_phrase",
        "lead_s": rng.uniform(1, 2) if c == "late_start" else rng.uniform(0, 0.3),
        "tail_s": rng.uniform(0.05, 0.3),
        "noise": {"babble_5_10db": "babble", "noise_5_10db": "white"}.get(c),
        "snr_db": rng.uniform(5, 10),
        "reverb": c == "reverb",
        "telephone": c == "telephone",
        "clip": c == "clipped",
        "gain_dbfs": -35.0 if c == "quiet_-35dbfs" else rng.uniform(-20, -1),
    }


def render(clip: Clip) -> bytes:
    """Synthesise and augment one clip; returns the WAV file's bytes."""
    rng = np.random.default_rng(clip.seed)
    aug = _augmentation(clip, rng)
    if clip.digit < 0:
        return _noise_only(clip, rng)
    stretch = rng.uniform(0.93, 1.07)  # tape-speed change: tempo and pitch together
    text = _phrase(clip, rng) if aug["phrase"] else None
    voice = f"{clip.voice}+{clip.variant}" if clip.variant else clip.voice
    speed = clip.speed
    with tempfile.TemporaryDirectory() as tmp:
        while True:
            speech = _speak(voice, speed, clip.pitch, text or WORDS[clip.digit], Path(tmp))
            speech = soxr.resample(speech, RATE * stretch, RATE)
            if len(speech) <= MAX_SPEECH_S * RATE or speed > 400:
                break
            # A slow variant or long phrase overran the window: say it faster. Slow speech (below
            # every training speed) only as much faster as it needs to fit, so it stays slow.
            if speed < TRAIN_SPEEDS[0]:
                speed = max(speed + 5, int(speed * len(speech) / (MAX_SPEECH_S * RATE)))
            else:
                speed += 30
    speech = speech[: int(MAX_SPEECH_S * RATE)] / max(float(np.abs(speech).max()), 1e-6)
    lead, tail = (np.zeros(int(aug[k] * RATE), np.float32) for k in ("lead_s", "tail_s"))
    audio = np.concatenate([lead, speech, tail]).astype(np.float32)
    if aug["reverb"]:
        audio = _reverb(audio, rng)
    if aug["noise"]:
        kind = aug["noise"] if aug["noise"] == "babble" else "colour"
        audio = _add_noise(audio, float(np.mean(speech**2)), aug["snr_db"], kind, clip.split, rng)
    return _finish(audio, aug, rng)


def _phrase(clip: Clip, rng: np.random.Generator) -> str:
    """The digit inside a phrase: a held-out one, a training template or random carrier words."""
    word = WORDS[clip.digit]
    if clip.split == "test":
        return str(rng.choice(TEST_PHRASES)).format(w=word)
    if clip.condition != "hard" or rng.random() < 0.4:
        return str(rng.choice(TRAIN_PHRASES)).format(w=word)
    before, after = int(rng.integers(0, 4)), int(rng.integers(0, 3))
    if before + after == 0:
        before = 1
    return " ".join([*rng.choice(CARRIER_WORDS, before), word, *rng.choice(CARRIER_WORDS, after)])


def _noise_only(clip: Clip, rng: np.random.Generator) -> bytes:
    """A clip with nobody saying a digit: babble or coloured noise, 0.5-3 s."""
    n = int(rng.uniform(0.5, 3.0) * RATE)
    audio = _babble(n, clip.split, rng) if rng.random() < 0.6 else _coloured_noise(n, rng)
    aug = {"telephone": False, "clip": False, "gain_dbfs": rng.uniform(-35, -3)}
    return _finish(audio.astype(np.float32), aug, rng)


def _finish(audio: np.ndarray, aug: dict, rng: np.random.Generator) -> bytes:
    """Gain, clipping, telephone band and the stored rate; the WAV file's bytes."""
    audio = audio / max(float(np.abs(audio).max()), 1e-9)
    if aug["clip"]:  # overdriven: the recording sits at full scale, its peaks flattened
        audio = np.clip(audio * rng.uniform(2.5, 8), -1, 1) * 0.99
    else:
        audio = audio * 10 ** (aug["gain_dbfs"] / 20)
    out_rate = RATE if rng.random() < 0.8 else int(rng.choice((22_050, 44_100)))
    if aug["telephone"]:
        audio, out_rate = _telephone(audio), 8000
    if out_rate != RATE:
        audio = soxr.resample(audio, RATE, out_rate)
    audio = np.clip(audio, -1, 1)
    buffer = io.BytesIO()
    sf.write(buffer, audio, out_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
