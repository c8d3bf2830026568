"""Optional audio steps on real WAV files: energy trimming and a window on the voice."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from app.errors import BundleError
from app.preprocessing.audio import AudioPreprocessor
from app.preprocessing.voiced import frame_rms, voiced_span
from tests.support.media import voice_burst, wav_bytes

RATE = 16000
# The digits bundle's audio parameters, without normalisation so silence reads as the dB floor.
PARAMS = {
    "sample_rate": RATE,
    "duration_s": 1.0,
    "features": "log_mel",
    "n_fft": 512,
    "win_length": 400,
    "hop_length": 160,
    "n_mels": 40,
    "fmin": 20,
    "fmax": 8000,
    "normalize": "none",
}
FRAMES = 101
# A frame is "loud" when its loudest mel band is this far above the clip's quietest value.
LOUD_DB = 40.0


def make(**params) -> AudioPreprocessor:
    return AudioPreprocessor(
        {**PARAMS, **params}, bundle_dir=Path("."), shape=(FRAMES, 40), dtype="float32"
    )


def loud_frames(features: np.ndarray) -> np.ndarray:
    """Indices of the frames holding sound rather than silence (or a quiet hum)."""
    return np.flatnonzero(features.max(axis=1) > features.min() + LOUD_DB)


def test_late_burst_lands_centred_in_a_voiced_window():
    clip = wav_bytes(voice_burst(RATE, lead_s=1.5, burst_s=0.4, tail_s=1.1), RATE)  # 3 s
    assert loud_frames(make()(clip)).size == 0  # the first second is silence: never heard
    loud = loud_frames(make(trim="energy", window="voiced")(clip))
    assert 30 <= loud.size <= 45  # the 0.4 s burst, 100 frames a second
    assert abs((loud[0] + loud[-1]) / 2 - FRAMES / 2) <= 3  # centred in the window


def test_trim_alone_starts_the_window_at_the_voice():
    clip = wav_bytes(voice_burst(RATE, lead_s=1.5, burst_s=0.4, tail_s=1.1), RATE)
    loud = loud_frames(make(trim="energy")(clip))
    assert loud.size >= 30 and loud[0] <= 5


def test_voiced_window_takes_the_loudest_stretch_of_a_long_voiced_part():
    # A hum 20 dB down runs through all 3 s, so everything is voiced; the burst is at 2.0-2.4 s.
    clip = wav_bytes(voice_burst(RATE, lead_s=2.0, burst_s=0.4, tail_s=0.6, hum_db=20), RATE)
    peak = make(trim="energy", window="voiced")(clip).max(axis=1)
    hum_only = make()(clip).max(axis=1)  # the clip's first second
    assert peak.max() > hum_only.max() + 15  # the burst is in the window
    burst = np.flatnonzero(peak > hum_only.max() + 10)
    # Every window holding the whole burst has the same energy; the first of them wins, so the
    # burst's louder middle (above its sqrt-Hann fade) sits at the window's end.
    assert 20 <= burst.size <= 40 and burst[-1] >= FRAMES - 15


def test_the_declared_threshold_changes_what_is_trimmed():
    # A steady hum 30 dB below the burst: inside a 35 dB threshold, outside a 20 dB one.
    samples = voice_burst(RATE, lead_s=1.5, burst_s=0.4, tail_s=1.1, hum_db=30)
    rms = frame_rms(samples, 400, 160)
    assert voiced_span(samples, rms, 160, 35.0) == (0, samples.size)
    start, end = voiced_span(samples, rms, 160, 20.0)
    assert abs(start - 1.5 * RATE) < 0.1 * RATE and abs(end - 1.9 * RATE) < 0.1 * RATE
    clip = wav_bytes(samples, RATE)
    kept_hum = make(trim="energy", trim_db=35, window="voiced")(clip)
    trimmed = make(trim="energy", trim_db=20, window="voiced")(clip)
    # 20 dB: the hum is cut and the window's edges are zero padding; 35 dB: the edges hum.
    assert trimmed[0].max() < kept_hum[0].max() - 30


@pytest.mark.parametrize("top_db", [20.0, 35.0, 60.0])
def test_the_span_is_librosas_trim_interval(top_db):
    samples = voice_burst(RATE, lead_s=0.7, burst_s=0.5, tail_s=0.3, hum_db=40)
    _, interval = librosa.effects.trim(samples, top_db=top_db, frame_length=400, hop_length=160)
    rms = frame_rms(samples, 400, 160)
    assert voiced_span(samples, rms, 160, top_db) == tuple(int(i) for i in interval)


def test_digital_silence_keeps_the_whole_clip():
    clip = wav_bytes(np.zeros(2 * RATE, dtype=np.float32), RATE)
    np.testing.assert_array_equal(make(trim="energy", window="voiced")(clip), make()(clip))


def test_voiced_window_on_a_resampled_stereo_clip():
    mono = voice_burst(44100, lead_s=1.8, burst_s=0.4, tail_s=0.3)
    clip = wav_bytes(np.stack([mono, mono], axis=1), 44100)
    loud = loud_frames(make(trim="energy", window="voiced")(clip))
    assert 30 <= loud.size <= 45 and abs((loud[0] + loud[-1]) / 2 - FRAMES / 2) <= 3


@pytest.mark.parametrize(
    "params,key",
    [
        ({"trim": "silence"}, "trim"),
        ({"trim": True}, "trim"),
        ({"trim": "energy", "trim_db": -10}, "trim_db"),
        ({"trim": "energy", "trim_db": 0}, "trim_db"),
        ({"trim": "energy", "trim_db": "35"}, "trim_db"),
        ({"trim_db": 35}, "trim_db"),
        ({"window": "middle"}, "window"),
        ({"window": "voiced"}, "window"),
    ],
)
def test_bad_values_are_bundle_errors_naming_the_key(params, key):
    with pytest.raises(BundleError, match=key):
        make(**params)


def test_describe_shows_the_options():
    described = make().describe()
    assert (described["trim"], described["window_placement"], described["window"]) == (
        "none",
        "start",
        "hann",
    )
    assert "trim_db" not in described
    described = make(trim="energy", trim_db=25, window="voiced").describe()
    assert (described["trim"], described["trim_db"], described["window_placement"]) == (
        "energy",
        25.0,
        "voiced",
    )
