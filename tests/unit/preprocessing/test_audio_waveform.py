"""features: waveform, checked against soundfile's own decode and soxr's own resampling."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from app.errors import BundleError, UnprocessableInput
from app.preprocessing import AudioPreprocessor, WaveformPreprocessor, make_preprocessor
from tests.support.media import tone, voice_burst, wav_bytes

RATE = 16000


def make(shape: tuple[int, ...] = (RATE,), dtype: str = "float32", **params):
    return WaveformPreprocessor(
        {"features": "waveform", **params}, bundle_dir=Path("."), shape=shape, dtype=dtype
    )


def decoded(data: bytes) -> np.ndarray:
    """soundfile's float32 samples, mixed down to mono."""
    samples, _rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples[:, 0] if samples.shape[1] == 1 else samples.sum(axis=1) * np.float32(0.5)


def fitted(samples: np.ndarray, n: int = RATE) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, samples.size)] = samples[:n]
    return out


@pytest.mark.parametrize(
    "seconds,channels,subtype",
    [
        (0.5, 1, "PCM_16"),  # zero-padded
        (1.0, 1, "FLOAT"),
        (1.7, 1, "PCM_24"),  # cut
        (0.8, 2, "PCM_16"),  # mixed down
    ],
)
@pytest.mark.parametrize("shape", [(RATE,), (RATE, 1)])
def test_samples_at_the_model_rate_are_the_decoded_samples(seconds, channels, subtype, shape):
    data = wav_bytes(tone(RATE, seconds, channels=channels), RATE, subtype=subtype)
    out = make(shape)(data)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_array_equal(out.reshape(-1), fitted(decoded(data)))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampled_samples_are_soxr_hq_of_the_decoded_samples(rate):
    # Shorter than the clip: the whole file is decoded, so the resampler sees the same input.
    data = wav_bytes(tone(rate, 0.6)[:, 0], rate, subtype="FLOAT")
    expected = soxr.resample(decoded(data), rate, RATE, quality="HQ")
    np.testing.assert_array_equal(make()(data), fitted(expected))


def test_long_resampled_clip_matches_away_from_the_cut():
    # Longer than the clip: only the clip plus a margin is decoded, which the filter cannot tell.
    data = wav_bytes(tone(44100, 2.0)[:, 0], 44100, subtype="FLOAT")
    expected = soxr.resample(decoded(data), 44100, RATE, quality="HQ")[:RATE]
    np.testing.assert_allclose(make()(data), expected, atol=1e-6)


def test_values_are_clipped_to_plus_minus_one():
    loud = np.linspace(-1.5, 1.5, RATE // 2, dtype=np.float32)
    out = make()(wav_bytes(loud, RATE, subtype="FLOAT"))
    assert out.min() == -1.0 and out.max() == 1.0
    np.testing.assert_array_equal(out[: loud.size], np.clip(loud, -1, 1))


def test_trim_and_window_apply_as_for_the_spectral_features():
    data = wav_bytes(voice_burst(RATE), RATE)
    params = {"trim": "energy", "window": "voiced"}
    spectral = AudioPreprocessor(params, bundle_dir=Path("."), shape=(101, 40), dtype="float32")
    out = make(**params)(data)
    np.testing.assert_array_equal(out, spectral._samples(data))  # default (512, 160) framing
    # The burst, centred; untrimmed, the first second is the silence before it.
    assert np.abs(out).max() > 0.1 and not make()(data).any()


def test_duration_defaults_to_the_input_length():
    pre = make((8000,), sample_rate=8000)
    assert pre.duration_s == 1.0 and pre.n_samples == 8000
    described = pre.describe()
    json.dumps(described)
    assert described["features"] == "waveform" and described["samples"] == 8000
    assert make((RATE // 2,)).describe()["duration_s"] == 0.5


def test_make_preprocessor_and_float64():
    pre = make_preprocessor(
        "audio",
        {"features": "waveform", "duration_s": 0.5},
        bundle_dir=Path("."),
        shape=(8000, 1),
        dtype="float64",
    )
    assert isinstance(pre, WaveformPreprocessor)
    assert pre(wav_bytes(tone(RATE, 0.2), RATE)).dtype == np.float64


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk"])
def test_bad_audio_is_422(data):
    with pytest.raises(UnprocessableInput):
        make()(data)


@pytest.mark.parametrize(
    "shape,dtype,params,message",
    [
        (
            (8000,),
            "float32",
            {"duration_s": 1.0},
            "duration_s 1.0 at 16000 Hz is 16000 samples but the model input takes 8000 "
            "(shape (8000,))",
        ),
        ((RATE,), "float32", {"n_mels": 40}, "n_mels is not used with features 'waveform'"),
        ((RATE,), "float32", {"layout": "time_major"}, "layout is not used with"),
        ((RATE,), "float32", {"normalize": "stats"}, "normalize is not used with"),
        ((RATE,), "float32", {"n_fft": 1, "hop_length": 2}, "hop_length, n_fft are not used"),
        ((RATE,), "float32", {"colour": 1}, "unknown audio parameters ['colour']"),
        ((RATE, 2), "float32", {}, "(samples,) or (samples, 1), the model input is (16000, 2)"),
        ((), "float32", {}, "the model input is ()"),
        ((RATE,), "int16", {}, "audio gives float samples but the model input is int16"),
        ((RATE,), "float32", {"max_duration_s": 0.5}, "max_duration_s 0.5 is shorter than"),
        ((RATE,), "float32", {"window": "voiced"}, "window 'voiced' needs trim 'energy'"),
    ],
)
def test_bundle_errors(shape, dtype, params, message):
    with pytest.raises(BundleError) as caught:
        make(shape, dtype, **params)
    assert message in str(caught.value)
