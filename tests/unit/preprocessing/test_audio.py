"""AudioPreprocessor on real encoded bytes, checked against librosa's own feature functions."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from app.errors import BundleError, ServiceError, UnprocessableInput, UnsupportedMediaType
from app.preprocessing.audio import AudioPreprocessor

# Our float32 numpy/scipy pipeline against librosa's float32 one: different FFT and matmul
# summation orders. Measured worst cases: 3e-5 dB for log-mel, 2.5e-4 for MFCC (values ~ -600).
LOG_MEL_ATOL = 1e-3
MFCC_ATOL = 2e-3
# A tone resampled by soxr HQ against the same tone generated at 16 kHz, away from the clip's
# edges (where the resampler's start-up and flush transients live). Measured: 4e-6 dB.
RESAMPLED_ATOL = 1e-3


def make(params: dict | None = None, dtype: str = "float32", bundle_dir: Path = Path(".")):
    """A preprocessor whose model shape is whatever ``params`` implies (time-major)."""
    params = params or {}
    rate, hop = params.get("sample_rate", 16000), params.get("hop_length", 160)
    frames = 1 + round(rate * params.get("duration_s", 1.0)) // hop
    feats = (
        params.get("n_mfcc", 13) if params.get("features") == "mfcc" else params.get("n_mels", 40)
    )
    shape = (feats, frames) if params.get("layout") == "feature_major" else (frames, feats)
    return AudioPreprocessor(params, bundle_dir=bundle_dir, shape=shape, dtype=dtype)


def tone(rate: int, seconds: float = 1.0, freq: float = 1000.0, channels: int = 1) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    wave = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.repeat(wave[:, None], channels, axis=1)


def noise(rate: int = 16000, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(rate * seconds))).astype(
        np.float32
    )


def encode(
    samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str | None = "FLOAT"
) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def mel_bin_nearest(freq: float, n_mels: int = 40, fmax: float = 8000.0) -> int:
    centres = librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=fmax)[1:-1]
    return int(np.argmin(np.abs(centres - freq)))


@pytest.mark.parametrize(
    "fmt,subtype,rate,channels",
    [
        ("WAV", "PCM_16", 8000, 1),
        ("WAV", "PCM_16", 22050, 2),
        ("WAV", "PCM_16", 44100, 1),
        ("WAV", "PCM_16", 48000, 2),
        ("WAV", "FLOAT", 8000, 2),
        ("WAV", "FLOAT", 22050, 1),
        ("WAV", "FLOAT", 44100, 2),
        ("WAV", "FLOAT", 48000, 1),
        ("WAV", "PCM_U8", 16000, 1),
        ("WAV", "PCM_24", 16000, 2),
        ("WAV", "PCM_32", 44100, 1),
        ("WAV", "DOUBLE", 16000, 1),
        ("FLAC", "PCM_16", 44100, 2),
        ("OGG", "VORBIS", 22050, 1),
        ("MP3", "MPEG_LAYER_III", 44100, 2),
    ],
)
def test_formats_give_the_model_shape_and_a_1khz_peak(fmt, subtype, rate, channels):
    out = make()(encode(tone(rate, channels=channels), rate, fmt, subtype))
    assert out.shape == (101, 40) and out.dtype == np.float32 and np.isfinite(out).all()
    assert int(np.argmax(out[10:-10].mean(axis=0))) == mel_bin_nearest(1000.0)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"features": "mfcc"},
        {
            "n_fft": 400,
            "win_length": 256,
            "hop_length": 128,
            "n_mels": 64,
            "fmin": 20.0,
            "fmax": 7600.0,
            "features": "mfcc",
            "n_mfcc": 20,
        },
        {"sample_rate": 8000, "duration_s": 0.5, "n_fft": 256, "n_mels": 20, "features": "mfcc"},
    ],
)
@pytest.mark.parametrize("signal", ["noise", "tone_then_silence"])
def test_features_equal_librosas(params, signal):
    pre = make(params)
    rate = pre.sample_rate
    y = noise(rate, pre.duration_s) if signal == "noise" else tone(rate, pre.duration_s)
    if signal == "tone_then_silence":
        y[len(y) // 2 :] = 0.0
    options = {
        "sr": rate,
        "n_fft": pre.n_fft,
        "hop_length": pre.hop_length,
        "win_length": pre.win_length,
        "n_mels": pre.n_mels,
        "fmin": pre.fmin,
        "fmax": pre.fmax,
        "center": True,
        "pad_mode": "constant",
    }
    if pre.features == "mfcc":
        expected = librosa.feature.mfcc(y=y, n_mfcc=pre.n_mfcc, dct_type=2, norm="ortho", **options)
        atol = MFCC_ATOL
    else:
        mel = librosa.feature.melspectrogram(y=y, power=2.0, **options)
        expected = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
        atol = LOG_MEL_ATOL
    np.testing.assert_allclose(pre(encode(y, rate)), expected.T, rtol=0, atol=atol)


def test_stereo_with_identical_channels_equals_mono():
    pre = make({"features": "mfcc"})
    mono = pre(encode(tone(44100), 44100, subtype="PCM_16"))
    stereo = pre(encode(tone(44100, channels=2), 44100, subtype="PCM_16"))
    np.testing.assert_array_equal(stereo, mono)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampled_tone_matches_a_native_16k_tone(rate):
    pre = make()
    native = pre(encode(tone(16000), 16000))
    resampled = pre(encode(tone(rate), rate))
    np.testing.assert_allclose(resampled[3:-3], native[3:-3], rtol=0, atol=RESAMPLED_ATOL)


def test_only_the_needed_prefix_is_resampled_without_changing_the_result():
    import soxr

    y = noise(44100, 3.0)
    pre = make()
    full = soxr.resample(y, 44100, 16000, quality="HQ")[:16000]
    np.testing.assert_array_equal(pre(encode(y, 44100)), pre.features_of(full))


def test_short_clip_is_padded_with_silence_at_the_floor():
    out = make()(encode(noise(16000, 0.5), 16000))
    # Frames whose 512-sample window starts past sample 8000 see only padding: 80 dB down.
    silent = out[(8000 + 256) // 160 + 1 :]
    assert silent.size and np.all(silent == out.max() - 80.0)
    assert np.all(out[:45] > out.max() - 80.0)


def test_long_clip_is_trimmed_to_its_start():
    y = noise(16000, 2.5)
    pre = make()
    np.testing.assert_array_equal(pre(encode(y, 16000)), pre(encode(y[:16000], 16000)))


def test_per_utterance_normalisation():
    out = make({"normalize": "per_utterance"})(encode(noise(), 16000))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-3)


def test_per_utterance_floors_the_std_of_constant_features():
    out = make({"normalize": "per_utterance"})(encode(np.zeros(16000, np.float32), 16000))
    assert np.all(out == 0.0)


def test_stats_normalisation(tmp_path):
    mean = np.linspace(-60, -20, 13).astype(np.float32)
    std = np.linspace(5, 15, 13).astype(np.float32)
    np.savez(tmp_path / "stats.npz", mean=mean, std=std)
    data = encode(noise(), 16000)
    raw = make({"features": "mfcc"})(data)
    params = {"features": "mfcc", "normalize": "stats", "stats_file": "stats.npz"}
    out = make(params, bundle_dir=tmp_path)(data)
    np.testing.assert_allclose(out, (raw - mean) / std, rtol=1e-5, atol=1e-5)


def test_layouts_and_dtypes():
    data = encode(noise(), 16000)
    base = make()(data)
    assert np.array_equal(make({"layout": "feature_major"})(data), base.T)
    channel = AudioPreprocessor({}, bundle_dir=Path("."), shape=(101, 40, 1), dtype="float32")
    assert np.array_equal(channel(data), base[..., None])
    half = make(dtype="float16")(data)
    assert half.dtype == np.float16 and np.allclose(half, base, atol=0.1)


WAV = encode(tone(16000), 16000, subtype="PCM_16")


@pytest.mark.parametrize(
    "data,params,error,message",
    [
        (b"", {}, UnprocessableInput, "audio: empty"),
        (
            np.random.default_rng(0).bytes(4000),
            {},
            UnsupportedMediaType,
            "audio: bytes are not a recognised format; accepted: WAV, FLAC, OGG/Vorbis, MP3",
        ),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), {}, UnsupportedMediaType, "audio: bytes are PNG"),
        (WAV[:12], {}, UnprocessableInput, "audio: cannot decode WAV"),
        (WAV[:30], {}, UnprocessableInput, "audio: cannot decode WAV"),
        (WAV[:12] + b"junk" + WAV[16:], {}, UnprocessableInput, "audio: cannot decode WAV"),
        (WAV[:44], {}, UnprocessableInput, "audio: the WAV header declares 32000 bytes"),
        (encode(np.zeros(0, np.float32), 16000), {}, UnprocessableInput, "audio: no samples"),
        (b"fLaC" + bytes(100), {}, UnprocessableInput, "audio: cannot decode FLAC"),
        (b"OggS" + bytes(100), {}, UnprocessableInput, "audio: cannot decode OGG/Vorbis"),
        (
            encode(tone(8000, 75.0), 8000, subtype="PCM_U8"),
            {},
            UnprocessableInput,
            "audio: 75.0 s is over the limit of 60 s",
        ),
        (
            encode(tone(16000, 3.0), 16000),
            {"max_duration_s": 2.5},
            UnprocessableInput,
            "audio: 3.0 s is over the limit of 2.5 s",
        ),
        (
            encode(np.full(16000, np.nan, np.float32), 16000),
            {},
            UnprocessableInput,
            "audio: sample values up to nan",
        ),
        (
            encode(np.stack([np.full(800, np.inf), np.full(800, -np.inf)], axis=1), 16000),
            {},
            UnprocessableInput,
            "audio: sample values up to nan",  # inf - inf in the mixdown
        ),
    ],
)
def test_bad_input(data, params, error, message):
    with pytest.raises(error) as caught:
        make(params)(data)
    assert caught.value.message.startswith(message)
    assert caught.value.field == "audio"


def test_mutated_files_never_raise_anything_but_service_errors():
    rng = np.random.default_rng(0)
    y = tone(22050, 0.3, channels=2)
    sources = [
        encode(y, 22050, fmt, subtype)
        for fmt, subtype in [
            ("WAV", "PCM_16"),
            ("WAV", "FLOAT"),
            ("FLAC", "PCM_16"),
            ("OGG", "VORBIS"),
            ("MP3", "MPEG_LAYER_III"),
        ]
    ]
    pre = make({"features": "mfcc"})
    for data in sources:
        for _ in range(60):
            mutated = bytearray(data[: rng.integers(1, len(data) + 1)])
            for _ in range(rng.integers(0, 6)):
                # Mostly in the header, where the parsers branch.
                mutated[rng.integers(0, min(len(mutated), 256))] = rng.integers(0, 256)
            try:
                assert make({"features": "mfcc"}).shape == pre(bytes(mutated)).shape
            except ServiceError as exc:
                assert exc.status in (415, 422)


def test_concurrent_calls_agree():
    pre = make({"features": "mfcc"})
    data = encode(noise(44100, 2.0), 44100, subtype="PCM_16")
    expected = pre(data)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: pre(data), range(16)))
    assert all(np.array_equal(r, expected) for r in results)


@pytest.mark.parametrize(
    "shape,params,message",
    [
        ((98, 40), {}, "the model input is (98, 40) but bundle.yaml gives (101, 40)"),
        ((101, 13), {}, "40 features from n_mels"),
        ((40, 101), {}, "(frames, features"),
        ((101, 40, 2), {}, "optionally with a trailing axis of 1"),
        ((101, 40), {"n_ffts": 512}, "unknown audio parameters ['n_ffts']"),
        ((101, 40), {"features": "mel"}, "features 'mel'; known"),
        ((101, 40), {"n_mfcc": 13}, "n_mfcc is only used with features 'mfcc'"),
        ((101, 40), {"win_length": 1024}, "win_length 1024 is longer than n_fft 512"),
        ((101, 40), {"fmax": 9000}, "fmax 9000.0 at sample_rate 16000"),
        ((101, 40), {"hop_length": 0}, "hop_length must be a positive integer"),
        ((101, 40), {"duration_s": "1s"}, "duration_s must be a number"),
        ((101, 40), {"normalize": "stats"}, "normalize 'stats' needs a stats_file"),
        ((101, 40), {"normalize": "stats", "stats_file": "no.npz"}, "stats_file no.npz is missing"),
        ((101, 40), {"stats_file": "s.npz"}, "only used with normalize 'stats'"),
    ],
)
def test_bundle_errors(shape, params, message):
    with pytest.raises(BundleError) as caught:
        AudioPreprocessor(params, bundle_dir=Path("."), shape=shape, dtype="float32")
    assert message in str(caught.value)


def test_mfcc_shape_mismatch_names_n_mfcc():
    with pytest.raises(BundleError, match="13 features from n_mfcc"):
        AudioPreprocessor(
            {"features": "mfcc"}, bundle_dir=Path("."), shape=(101, 20), dtype="float32"
        )


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"mean": np.zeros(40), "std": np.ones(13)}, "std in stats.npz has shape (13,)"),
        ({"mean": np.zeros(40)}, "needs arrays 'mean' and 'std'"),
        ({"mean": np.zeros(40), "std": np.zeros(40)}, "std positive"),
    ],
)
def test_bad_stats_files(tmp_path, arrays, message):
    np.savez(tmp_path / "stats.npz", **arrays)
    with pytest.raises(BundleError) as caught:
        make({"normalize": "stats", "stats_file": "stats.npz"}, bundle_dir=tmp_path)
    assert message in str(caught.value)


def test_integer_model_input_is_refused():
    with pytest.raises(BundleError, match="model input is int32"):
        make(dtype="int32")


def test_describe_is_json():
    described = make({"features": "mfcc", "sample_rate": 8000, "duration_s": 0.5}).describe()
    json.dumps(described)
    assert described["frames"] == 26 and described["n_mfcc"] == 13 and described["fmax"] == 4000.0


def test_streaming_wav_with_unknown_data_size_is_accepted():
    wav = bytearray(encode(tone(16000, 0.5), 16000, subtype="PCM_16"))
    assert wav[36:40] == b"data"
    wav[40:44] = b"\xff\xff\xff\xff"  # what a recorder writes before it knows the length
    assert make()(bytes(wav)).shape == (101, 40)


def test_rf64_is_accepted():
    buf = io.BytesIO()
    sf.write(buf, tone(16000, 0.5), 16000, format="RF64", subtype="PCM_16")
    assert make()(buf.getvalue()).shape == (101, 40)


@pytest.mark.parametrize(
    "params,rate,channels,message",
    [
        ({"max_channels": 1}, 16000, 2, "audio: 2 channels; accepted: 1 to 1"),
        ({"min_sample_rate": 22050}, 16000, 1, "audio: sample rate 16000 Hz is outside 22050-"),
        ({"max_sample_rate": 16000}, 22050, 1, "audio: sample rate 22050 Hz is outside 8000-16000"),
    ],
)
def test_header_limits_are_parameters(params, rate, channels, message):
    with pytest.raises(UnprocessableInput) as caught:
        make(params)(encode(tone(rate, 0.2, channels=channels), rate))
    assert caught.value.message.startswith(message)
