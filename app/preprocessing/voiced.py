"""Where the sound is in a clip: energy-based silence trimming and a window placed on the voice."""

from __future__ import annotations

import librosa
import numpy as np


def frame_rms(waveform: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS energy per frame, frame i centred on sample i * hop_length (as librosa.effects.trim)."""
    return librosa.feature.rms(y=waveform, frame_length=frame_length, hop_length=hop_length)[0]


def voiced_span(
    waveform: np.ndarray, rms: np.ndarray, hop_length: int, top_db: float
) -> tuple[int, int]:
    """[start, end) samples of the voiced part: frames within ``top_db`` of the loudest.

    Bit-for-bit librosa.effects.trim's interval, except that a clip with no voiced frame at all
    (digital silence) keeps its whole length instead of becoming empty.
    """
    db = librosa.amplitude_to_db(rms, ref=np.max, top_db=None)
    voiced = np.flatnonzero(db > -top_db)
    if voiced.size == 0:
        return 0, waveform.shape[0]
    start = int(voiced[0]) * hop_length
    end = min(waveform.shape[0], (int(voiced[-1]) + 1) * hop_length)
    return start, end


def loudest_start(rms: np.ndarray, span: tuple[int, int], n_samples: int, hop_length: int) -> int:
    """First sample of the ``n_samples`` stretch inside ``span`` that holds the most energy."""
    start, end = span
    first, last = start // hop_length, -(-end // hop_length)
    energy = np.square(rms[first:last], dtype=np.float64)
    width = max(1, n_samples // hop_length)
    if energy.size <= width:
        return start
    # Sum of every run of `width` frames from one cumulative sum; the first maximum wins.
    totals = np.cumsum(np.concatenate(([0.0], energy)))
    best = int(np.argmax(totals[width:] - totals[:-width]))
    return int(np.clip((first + best) * hop_length, start, end - n_samples))


def place_window(
    waveform: np.ndarray,
    span: tuple[int, int],
    n_samples: int,
    *,
    voiced: bool,
    rms: np.ndarray,
    hop_length: int,
) -> np.ndarray:
    """Exactly ``n_samples`` float32 samples: the voiced span from its start, or placed on it.

    ``voiced=False``: the span's first ``n_samples`` (zero-padded at the end, like an untrimmed
    clip). ``voiced=True``: a span shorter than the window sits centred in it, zero-padded evenly
    around; a longer one gives its most energetic stretch.
    """
    start, end = span
    out = np.zeros(n_samples, dtype=np.float32)
    length = end - start
    if not voiced:
        kept = min(n_samples, length)
        out[:kept] = waveform[start : start + kept]
    elif length <= n_samples:
        offset = (n_samples - length) // 2
        out[offset : offset + length] = waveform[start:end]
    else:
        begin = loudest_start(rms, span, n_samples, hop_length)
        out[:] = waveform[begin : begin + n_samples]
    return out
