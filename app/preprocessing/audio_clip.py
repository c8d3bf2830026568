"""What every audio preprocessor shares: the upload's checks, decoding to mono float32 with
libsndfile, resampling with soxr, and the clip's window (trimmed or not), duration_s long."""

from __future__ import annotations

import io
import math
from typing import Any, ClassVar

import numpy as np
import soundfile as sf
import soxr

from app.errors import BundleError, UnprocessableInput
from app.preprocessing.audio_header import (
    AudioLimits,
    check_frames_read,
    check_header,
    check_wav_data_size,
)
from app.preprocessing.base import ignore_size
from app.preprocessing.formats import AUDIO_FORMATS, WAV, sniff_upload
from app.preprocessing.params import choice, number, positive_int
from app.preprocessing.voiced import frame_rms, place_window, voiced_span

#: The parameters AudioClip reads; every audio preprocessor accepts them.
CLIP_PARAMS = {
    "sample_rate", "duration_s", "max_duration_s", "min_sample_rate", "max_sample_rate",
    "max_channels", "trim", "trim_db", "window",
}  # fmt: skip
DEFAULT_SAMPLE_RATE = 16000
TRIMS = ("none", "energy")
WINDOWS = ("start", "voiced")
DEFAULT_TRIM_DB = 35.0
# Float files may hold values past +-1, but far beyond this the power spectrum overflows float32.
MAX_SAMPLE_VALUE = 1e6
RESAMPLE_QUALITY = "HQ"
# Source audio decoded past the clip's end, so the resampler's filter sees real samples at the cut
# rather than silence; far longer than soxr HQ's filter.
RESAMPLE_MARGIN_S = 0.05
# libsndfile errors are RuntimeErrors; bad headers can also surface as ValueError from soundfile.
_DECODE_ERRORS = (sf.SoundFileError, RuntimeError, ValueError, EOFError)


class AudioClip:
    """Decodes WAV/FLAC/OGG/MP3 to the model's rate and length; subclasses make the features."""

    modality: ClassVar[str] = "audio"
    accepted_formats: ClassVar[tuple[str, ...]] = AUDIO_FORMATS
    #: Called with the length in seconds of each clip within the limit (for the metrics).
    observe_size = staticmethod(ignore_size)

    def _clip_params(
        self, params: dict[str, Any], *, duration_s: float, trim_frame: tuple[int, int]
    ) -> None:
        """Rate, length, header limits and trimming; ``trim_frame`` is (frame, hop) for trim."""
        self.sample_rate = positive_int(params, "sample_rate", DEFAULT_SAMPLE_RATE)
        self.duration_s = number(params, "duration_s", duration_s)
        self.max_duration_s = number(params, "max_duration_s", 60.0)
        self.limits = AudioLimits(
            min_sample_rate=positive_int(params, "min_sample_rate", 8000),
            max_sample_rate=positive_int(params, "max_sample_rate", 48000),
            max_channels=positive_int(params, "max_channels", 8),
            max_duration_s=self.max_duration_s,
        )
        self.trim = choice(params, "trim", TRIMS)
        if self.trim == "none" and "trim_db" in params:
            raise BundleError("trim_db is only used with trim 'energy', not 'none'")
        self.trim_db = number(params, "trim_db", DEFAULT_TRIM_DB)
        self.window_placement = choice(params, "window", WINDOWS)
        if self.window_placement == "voiced" and self.trim != "energy":
            raise BundleError("window 'voiced' needs trim 'energy' (which finds the voice)")
        self.n_samples = round(self.sample_rate * self.duration_s)
        self.trim_frame = trim_frame

    def _check_clip(self) -> None:
        if self.limits.min_sample_rate > self.limits.max_sample_rate:
            raise BundleError(
                f"min_sample_rate {self.limits.min_sample_rate} is above max_sample_rate "
                f"{self.limits.max_sample_rate}"
            )
        if self.max_duration_s < self.duration_s:
            raise BundleError(
                f"max_duration_s {self.max_duration_s} is shorter than duration_s {self.duration_s}"
            )

    def _samples(self, data: bytes) -> np.ndarray:
        """The upload's n_samples float32 samples at sample_rate: checked, decoded, fitted."""
        fmt = sniff_upload(data, "audio", AUDIO_FORMATS)
        samples, rate = self.decode(data, fmt)
        return self.fit(samples, rate)

    def decode(self, data: bytes, fmt: str) -> tuple[np.ndarray, int]:
        """(Mono float32 samples at the file's own rate, that rate): only as many samples as the
        clip needs, checked and mixed down; the first step of ``_samples``."""
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
            mono = mixdown(samples)
            peak = float(np.max(np.abs(mono)))
        if not peak <= MAX_SAMPLE_VALUE:  # also catches NaN
            raise UnprocessableInput(
                f"audio: sample values up to {peak:g} are not a usable signal", field="audio"
            )
        return mono, rate

    def fit(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """Resample decoded samples to the model's rate, then zero-pad or trim (or window, with
        trim 'energy') to exactly n_samples; the second step of ``_samples``."""
        if rate != self.sample_rate:
            samples = soxr.resample(samples, rate, self.sample_rate, quality=RESAMPLE_QUALITY)
        if self.trim == "energy":
            frame_length, hop_length = self.trim_frame
            rms = frame_rms(samples, frame_length, hop_length)
            span = voiced_span(samples, rms, hop_length, self.trim_db)
            return place_window(
                samples,
                span,
                self.n_samples,
                voiced=self.window_placement == "voiced",
                rms=rms,
                hop_length=hop_length,
            )
        waveform = np.zeros(self.n_samples, dtype=np.float32)
        kept = min(self.n_samples, samples.shape[0])
        waveform[:kept] = samples[:kept]
        return waveform

    def _clip_describe(self) -> dict[str, Any]:
        """The clip's parameters, for model metadata."""
        described: dict[str, Any] = {
            "sample_rate": self.sample_rate,
            "duration_s": self.duration_s,
            "samples": self.n_samples,
            "max_duration_s": self.max_duration_s,
            "min_sample_rate": self.limits.min_sample_rate,
            "max_sample_rate": self.limits.max_sample_rate,
            "max_channels": self.limits.max_channels,
            "resampler": f"soxr {RESAMPLE_QUALITY}",
            "trim": self.trim,
            "window_placement": self.window_placement,
        }
        if self.trim == "energy":
            described["trim_db"] = self.trim_db
        return described


def mixdown(samples: np.ndarray) -> np.ndarray:
    """Mean over channels of (frames, channels) samples, as float32 (what ``decode`` does to
    multi-channel files)."""
    channels = samples.shape[1]
    if channels == 1:
        return samples[:, 0]
    # Adding column views is ~30x faster than .mean(axis=1) over a short inner axis.
    mono = samples[:, 0].astype(np.float32, copy=True)
    for c in range(1, channels):
        mono += samples[:, c]
    mono *= np.float32(1.0 / channels)
    return mono
