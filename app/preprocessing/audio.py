"""Audio bytes to a model's log-mel or MFCC matrix, numerically equal to librosa's features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from app.errors import BundleError
from app.preprocessing.audio_clip import CLIP_PARAMS, AudioClip
from app.preprocessing.params import check_known, choice, number, positive_int

FEATURES = ("log_mel", "mfcc")
NORMALIZATIONS = ("none", "per_utterance", "stats")
LAYOUTS = ("time_major", "feature_major")
#: The parameters of the spectral features (refused with features 'waveform').
SPECTRAL_PARAMS = {
    "n_fft", "hop_length", "win_length", "n_mels", "n_mfcc", "fmin", "fmax", "normalize",
    "stats_file", "layout",
}  # fmt: skip
KNOWN_PARAMS = {"features", *CLIP_PARAMS, *SPECTRAL_PARAMS}
# librosa.power_to_db's defaults (ref=1.0): the dB floor is the loudest bin minus TOP_DB.
AMIN = 1e-10
TOP_DB = 80.0
STD_FLOOR = 1e-5


class AudioPreprocessor(AudioClip):
    """Decodes WAV/FLAC/OGG/MP3 with libsndfile, resamples with soxr, computes log-mel or MFCC."""

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        check_known(params, KNOWN_PARAMS, "audio")
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise BundleError(f"audio gives float features but the model input is {self.dtype}")
        self.features = choice(params, "features", FEATURES)
        self.n_fft = positive_int(params, "n_fft", 512)
        self.hop_length = positive_int(params, "hop_length", 160)
        self.win_length = positive_int(params, "win_length", self.n_fft)
        # Energy trimming frames the clip as the STFT does.
        self._clip_params(params, duration_s=1.0, trim_frame=(self.win_length, self.hop_length))
        self.n_mels = positive_int(params, "n_mels", 40)
        if self.features != "mfcc" and "n_mfcc" in params:
            raise BundleError(f"n_mfcc is only used with features 'mfcc', not {self.features!r}")
        self.n_mfcc = positive_int(params, "n_mfcc", 13) if self.features == "mfcc" else None
        self.fmin = number(params, "fmin", 0.0, allow_zero=True)
        self.fmax = number(params, "fmax", self.sample_rate / 2)
        self.normalize = choice(params, "normalize", NORMALIZATIONS)
        self.layout = choice(params, "layout", LAYOUTS)
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
        self._check_clip()

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
        features = self.features_of(self._samples(data))
        if self.layout == "feature_major":
            features = features.T
        return np.ascontiguousarray(features, dtype=self.dtype).reshape(self.shape)

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
            **self._clip_describe(),
            "frames": self.n_frames,
            "features": self.features,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "win_length": self.win_length,
            # The STFT window; "window_placement" is where the clip's window is placed.
            "window": "hann",
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "top_db": TOP_DB,
            "normalize": self.normalize,
            "layout": self.layout,
        }
        if self.n_mfcc is not None:
            described["n_mfcc"] = self.n_mfcc
        if self.stats_file is not None:
            described["stats_file"] = self.stats_file
        return described
