"""Audio bytes to a model's log-mel or MFCC matrix, numerically equal to librosa's features."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, ClassVar

import librosa
import numpy as np
import scipy.fft
import scipy.signal
import soundfile as sf
import soxr

from app.errors import BundleError, UnprocessableInput, UnsupportedMediaType
from app.preprocessing.audio_header import (
    AudioLimits,
    check_frames_read,
    check_header,
    check_wav_data_size,
)
from app.preprocessing.base import ignore_size
from app.preprocessing.formats import AUDIO_FORMATS, WAV, sniff
from app.preprocessing.params import check_known, choice, number, positive_int
from app.preprocessing.voiced import frame_rms, place_window, voiced_span

FEATURES = ("log_mel", "mfcc")
NORMALIZATIONS = ("none", "per_utterance", "stats")
LAYOUTS = ("time_major", "feature_major")
TRIMS = ("none", "energy")
WINDOWS = ("start", "voiced")
DEFAULT_TRIM_DB = 35.0
KNOWN_PARAMS = {
    "sample_rate", "duration_s", "features", "n_fft", "hop_length", "win_length", "n_mels",
    "n_mfcc", "fmin", "fmax", "normalize", "stats_file", "layout", "max_duration_s",
    "min_sample_rate", "max_sample_rate", "max_channels", "trim", "trim_db", "window",
}  # fmt: skip
# librosa.power_to_db's defaults (ref=1.0): the dB floor is the loudest bin minus TOP_DB.
AMIN = 1e-10
TOP_DB = 80.0
STD_FLOOR = 1e-5
# Float files may hold values past +-1, but far beyond this the power spectrum overflows float32.
MAX_SAMPLE_VALUE = 1e6
RESAMPLE_QUALITY = "HQ"
# Source audio decoded past the clip's end, so the resampler's filter sees real samples at the cut
# rather than silence; far longer than soxr HQ's filter.
RESAMPLE_MARGIN_S = 0.05
# libsndfile errors are RuntimeErrors; bad headers can also surface as ValueError from soundfile.
_DECODE_ERRORS = (sf.SoundFileError, RuntimeError, ValueError, EOFError)


class AudioPreprocessor:
    """Decodes WAV/FLAC/OGG/MP3 with libsndfile, resamples with soxr, computes log-mel or MFCC."""

    modality: ClassVar[str] = "audio"
    accepted_formats: ClassVar[tuple[str, ...]] = AUDIO_FORMATS
    #: Called with the length in seconds of each clip within the limit (for the metrics).
    observe_size = staticmethod(ignore_size)

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        check_known(params, KNOWN_PARAMS, "audio")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise BundleError(f"audio gives float features but the model input is {self.dtype}")
        self.sample_rate = positive_int(params, "sample_rate", 16000)
        self.duration_s = number(params, "duration_s", 1.0)
        self.max_duration_s = number(params, "max_duration_s", 60.0)
        self.limits = AudioLimits(
            min_sample_rate=positive_int(params, "min_sample_rate", 8000),
            max_sample_rate=positive_int(params, "max_sample_rate", 48000),
            max_channels=positive_int(params, "max_channels", 8),
            max_duration_s=self.max_duration_s,
        )
        self.features = choice(params, "features", FEATURES)
        self.n_fft = positive_int(params, "n_fft", 512)
        self.hop_length = positive_int(params, "hop_length", 160)
        self.win_length = positive_int(params, "win_length", self.n_fft)
        self.n_mels = positive_int(params, "n_mels", 40)
        if self.features != "mfcc" and "n_mfcc" in params:
            raise BundleError(f"n_mfcc is only used with features 'mfcc', not {self.features!r}")
        self.n_mfcc = positive_int(params, "n_mfcc", 13) if self.features == "mfcc" else None
        self.fmin = number(params, "fmin", 0.0, allow_zero=True)
        self.fmax = number(params, "fmax", self.sample_rate / 2)
        self.normalize = choice(params, "normalize", NORMALIZATIONS)
        self.layout = choice(params, "layout", LAYOUTS)
        self.trim = choice(params, "trim", TRIMS)
        if self.trim == "none" and "trim_db" in params:
            raise BundleError("trim_db is only used with trim 'energy', not 'none'")
        self.trim_db = number(params, "trim_db", DEFAULT_TRIM_DB)
        self.window_placement = choice(params, "window", WINDOWS)
        if self.window_placement == "voiced" and self.trim != "energy":
            raise BundleError("window 'voiced' needs trim 'energy' (which finds the voice)")
        self.n_samples = round(self.sample_rate * self.duration_s)
        self._check_consistency()
        self.n_features = self.n_mfcc or self.n_mels
        self.n_frames = 1 + (self.n_samples + 2 * (self.n_fft // 2) - self.n_fft) // self.hop_length
        self._check_shape()
        self.stats_file = params.get("stats_file")
        self._stats = self._load_stats(bundle_dir)

        # Everything below is read-only after construction, so concurrent calls can share it.
        window = scipy.signal.get_window("hann", self.win_length, fftbins=True)
        left = (self.n_fft - self.win_length) // 2  # centred in n_fft, as librosa.util.pad_center
        self._window = np.zeros(self.n_fft, dtype=np.float32)
        self._window[left : left + self.win_length] = window
        mel_basis = librosa.filters.mel(
            sr=self.sample_rate,
            n_fft=self.n_fft,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            dtype=np.float32,
        )
        self._mel_basis = np.ascontiguousarray(mel_basis.T)  # (freq bins, mels): frames @ basis
        self._dct = None
        if self.n_mfcc is not None:
            # Rows of the orthonormal DCT-II matrix, so MFCCs are one matmul per call.
            dct = scipy.fft.dct(np.eye(self.n_mels), type=2, norm="ortho", axis=0)
            self._dct = np.ascontiguousarray(dct[: self.n_mfcc].T, dtype=np.float32)

    def _check_consistency(self) -> None:
        if self.win_length > self.n_fft:
            raise BundleError(f"win_length {self.win_length} is longer than n_fft {self.n_fft}")
        if self.n_mfcc is not None and self.n_mfcc > self.n_mels:
            raise BundleError(f"n_mfcc {self.n_mfcc} is more than n_mels {self.n_mels}")
        if not self.fmin < self.fmax <= self.sample_rate / 2:
            raise BundleError(
                f"need 0 <= fmin < fmax <= sample_rate/2, got fmin {self.fmin}, fmax {self.fmax} "
                f"at sample_rate {self.sample_rate}"
            )
        if self.n_samples < self.n_fft // 2 + 1:
            raise BundleError(
                f"duration_s {self.duration_s} at {self.sample_rate} Hz is {self.n_samples} "
                f"samples, too short for n_fft {self.n_fft}"
            )
        if self.limits.min_sample_rate > self.limits.max_sample_rate:
            raise BundleError(
                f"min_sample_rate {self.limits.min_sample_rate} is above max_sample_rate "
                f"{self.limits.max_sample_rate}"
            )
        if self.max_duration_s < self.duration_s:
            raise BundleError(
                f"max_duration_s {self.max_duration_s} is shorter than duration_s {self.duration_s}"
            )

    def _check_shape(self) -> None:
        names = ("frames", "features") if self.layout == "time_major" else ("features", "frames")
        sizes = {"frames": self.n_frames, "features": self.n_features}
        expected = tuple(sizes[name] for name in names)
        shape = self.shape[:2] if len(self.shape) == 3 and self.shape[2] == 1 else self.shape
        if shape == expected:
            return
        feature_key = "n_mfcc" if self.features == "mfcc" else "n_mels"
        raise BundleError(
            f"the model input is {self.shape} but bundle.yaml gives {expected} "
            f"({names[0]}, {names[1]}; optionally with a trailing axis of 1): "
            f"{self.n_frames} frames from duration_s {self.duration_s} at {self.sample_rate} Hz "
            f"with hop_length {self.hop_length} (1 + {self.n_samples} // {self.hop_length}), "
            f"{self.n_features} features from {feature_key}"
        )

    def _load_stats(self, bundle_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
        if self.normalize != "stats":
            if self.stats_file is not None:
                raise BundleError(
                    f"stats_file is only used with normalize 'stats', not {self.normalize!r}"
                )
            return None
        if not self.stats_file:
            raise BundleError("normalize 'stats' needs a stats_file (.npz with mean and std)")
        path = Path(bundle_dir) / self.stats_file
        if not path.is_file():
            raise BundleError(f"stats_file {path} is missing")
        try:
            with np.load(path, allow_pickle=False) as npz:
                mean, std = (np.asarray(npz[key], dtype=np.float32) for key in ("mean", "std"))
        except (OSError, ValueError, KeyError) as exc:
            raise BundleError(f"stats_file {path} needs arrays 'mean' and 'std': {exc}") from None
        for name, array in (("mean", mean), ("std", std)):
            if array.shape != (self.n_features,):
                raise BundleError(
                    f"{name} in {self.stats_file} has shape {array.shape} but the features have "
                    f"{self.n_features} values per frame"
                )
        if not (np.all(np.isfinite(mean)) and np.all(std > 0) and np.all(np.isfinite(std))):
            raise BundleError(f"{self.stats_file}: mean must be finite and std positive")
        return mean, std

    def __call__(self, data: bytes) -> np.ndarray:
        """The model's feature matrix for one audio file."""
        if isinstance(data, str):
            raise UnsupportedMediaType(
                "audio: got text; send the file's bytes (a file part or {\"b64\": ...})",
                field="audio",
            )
        if not data:
            raise UnprocessableInput("audio: empty", field="audio")
        fmt = sniff(data)
        if fmt not in AUDIO_FORMATS:
            raise UnsupportedMediaType(
                f"audio: bytes are {fmt or 'not a recognised format'}; "
                f"accepted: {', '.join(AUDIO_FORMATS)}",
                field="audio",
            )
        samples, rate = self._decode(data, fmt)
        features = self.features_of(self._fit(samples, rate))
        if self.layout == "feature_major":
            features = features.T
        return np.ascontiguousarray(features, dtype=self.dtype).reshape(self.shape)

    def _decode(self, data: bytes, fmt: str) -> tuple[np.ndarray, int]:
        """Mono float32 samples at the file's own rate: only as many as the clip needs."""
        if fmt == WAV:
            check_wav_data_size(data)
        try:
            with sf.SoundFile(io.BytesIO(data)) as audio:
                rate, frames = audio.samplerate, audio.frames
                check_header(
                    fmt, audio.format, audio.subtype, rate, audio.channels, frames, self.limits
                )
                self.observe_size(frames / rate)
                # Decoding stops here, so a header that understates the length costs nothing.
                # Trimming looks for the voice anywhere in the clip (max_duration_s bounds it).
                wanted = math.ceil(self.n_samples * rate / self.sample_rate)
                if self.trim == "energy":
                    wanted = frames
                elif rate != self.sample_rate:
                    wanted += math.ceil(RESAMPLE_MARGIN_S * rate)
                samples = audio.read(frames=wanted, dtype="float32", always_2d=True)
        except _DECODE_ERRORS as exc:
            detail = getattr(exc, "error_string", None) or str(exc)
            raise UnprocessableInput(
                f"audio: cannot decode {fmt}: {detail}", field="audio"
            ) from None
        check_frames_read(fmt, min(wanted, frames), samples.shape[0])
        if samples.shape[0] == 0:
            raise UnprocessableInput("audio: no samples", field="audio")
        # Float files may hold inf/NaN (inf - inf warns in the mixdown); the peak check refuses it.
        with np.errstate(all="ignore"):
            mono = _mixdown(samples)
            peak = float(np.max(np.abs(mono)))
        if not peak <= MAX_SAMPLE_VALUE:  # also catches NaN
            raise UnprocessableInput(
                f"audio: sample values up to {peak:g} are not a usable signal", field="audio"
            )
        return mono, rate

    def _fit(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """Resample to the model's rate, then zero-pad or trim to exactly n_samples."""
        if rate != self.sample_rate:
            samples = soxr.resample(samples, rate, self.sample_rate, quality=RESAMPLE_QUALITY)
        if self.trim == "energy":
            rms = frame_rms(samples, self.win_length, self.hop_length)
            span = voiced_span(samples, rms, self.hop_length, self.trim_db)
            return place_window(
                samples,
                span,
                self.n_samples,
                voiced=self.window_placement == "voiced",
                rms=rms,
                hop_length=self.hop_length,
            )
        waveform = np.zeros(self.n_samples, dtype=np.float32)
        kept = min(self.n_samples, samples.shape[0])
        waveform[:kept] = samples[:kept]
        return waveform

    def features_of(self, waveform: np.ndarray) -> np.ndarray:
        """(frames, features) of a float32 waveform at sample_rate, normalised."""
        half = self.n_fft // 2
        padded = np.pad(waveform, (half, half))  # center=True, pad_mode='constant'
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop_length]
        spectrum = scipy.fft.rfft(frames * self._window, axis=-1)
        power = np.square(spectrum.real) + np.square(spectrum.imag)
        db = 10.0 * np.log10(np.maximum(power @ self._mel_basis, np.float32(AMIN)))
        features = np.maximum(db, db.max() - np.float32(TOP_DB))
        if self._dct is not None:
            features = features @ self._dct
        if self.normalize == "per_utterance":
            std = np.maximum(features.std(axis=0), np.float32(STD_FLOOR))
            features = (features - features.mean(axis=0)) / std
        elif self._stats is not None:
            features = (features - self._stats[0]) / self._stats[1]
        return features

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        described: dict[str, Any] = {
            "sample_rate": self.sample_rate,
            "duration_s": self.duration_s,
            "samples": self.n_samples,
            "frames": self.n_frames,
            "features": self.features,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "win_length": self.win_length,
            "window": "hann",
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "top_db": TOP_DB,
            "normalize": self.normalize,
            "layout": self.layout,
            "max_duration_s": self.max_duration_s,
            "min_sample_rate": self.limits.min_sample_rate,
            "max_sample_rate": self.limits.max_sample_rate,
            "max_channels": self.limits.max_channels,
            "resampler": f"soxr {RESAMPLE_QUALITY}",
            "trim": self.trim,
            # "window" above is the STFT window (hann); this is where the clip's window is placed.
            "window_placement": self.window_placement,
        }
        if self.trim == "energy":
            described["trim_db"] = self.trim_db
        if self.n_mfcc is not None:
            described["n_mfcc"] = self.n_mfcc
        if self.stats_file is not None:
            described["stats_file"] = self.stats_file
        return described


def _mixdown(samples: np.ndarray) -> np.ndarray:
    """Mean over channels of (frames, channels) samples, as float32."""
    channels = samples.shape[1]
    if channels == 1:
        return samples[:, 0]
    # Adding column views is ~30x faster than .mean(axis=1) over a short inner axis.
    mono = samples[:, 0].astype(np.float32, copy=True)
    for c in range(1, channels):
        mono += samples[:, c]
    mono *= np.float32(1.0 / channels)
    return mono
