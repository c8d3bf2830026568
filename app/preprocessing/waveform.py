"""Audio bytes to the samples themselves, for models that compute their own features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BundleError
from app.preprocessing.audio import SPECTRAL_PARAMS
from app.preprocessing.audio_clip import CLIP_PARAMS, DEFAULT_SAMPLE_RATE, AudioClip
from app.preprocessing.params import check_known, positive_int

KNOWN_PARAMS = {"features", *CLIP_PARAMS}
# Energy trimming's (frame, hop) in samples: the log-mel defaults' (n_fft, hop_length).
TRIM_FRAME = (512, 160)


class WaveformPreprocessor(AudioClip):
    """The decoded, mono, resampled clip, zero-padded or cut, as float32 in [-1, 1]."""

    def __init__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> None:
        if spectral := sorted(SPECTRAL_PARAMS & set(params)):
            verb = "is" if len(spectral) == 1 else "are"
            raise BundleError(f"{', '.join(spectral)} {verb} not used with features 'waveform'")
        check_known(params, KNOWN_PARAMS, "audio")
        if params.get("features", "waveform") != "waveform":
            raise BundleError(f"features {params['features']!r}; this preprocessor is 'waveform'")
        self.shape = tuple(int(d) for d in shape)
        if not self.shape or self.shape[1:] not in ((), (1,)):
            raise BundleError(
                f"features 'waveform' needs a model input of shape (samples,) or (samples, 1), "
                f"the model input is {self.shape}"
            )
        if dtype == "string" or np.dtype(dtype).kind != "f":
            raise BundleError(f"audio gives float samples but the model input is {dtype}")
        self.dtype = np.dtype(dtype)
        self.features = "waveform"
        samples = self.shape[0]
        rate = positive_int(params, "sample_rate", DEFAULT_SAMPLE_RATE)
        self._clip_params(params, duration_s=samples / rate, trim_frame=TRIM_FRAME)
        if self.n_samples != samples:
            raise BundleError(
                f"duration_s {self.duration_s} at {self.sample_rate} Hz is {self.n_samples} "
                f"samples but the model input takes {samples} (shape {self.shape})"
            )
        self._check_clip()

    def __call__(self, data: bytes) -> np.ndarray:
        """The model's samples for one audio file."""
        waveform = np.clip(self._samples(data), -1.0, 1.0)
        return np.ascontiguousarray(waveform, dtype=self.dtype).reshape(self.shape)

    def describe(self) -> dict[str, Any]:
        """The effective parameters, for model metadata."""
        described = {"features": "waveform", **self._clip_describe()}
        if self.trim == "energy":
            described["trim_frame"] = list(TRIM_FRAME)
        return described
