"""A bundle.yaml skeleton from a model's inputs and outputs: a modality guessed per input, TODO
comments wherever only the person who trained the model knows the answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Feature-axis sizes up to this are taken for MFCCs, larger ones for log-mel bands.
MAX_GUESSED_MFCC = 20
SAMPLE_RATE = 16000
HOP_LENGTH = 160
COMMENT_COLUMN = 34
NAME_HINTS = {
    "image": ("image", "img", "pixel", "photo", "picture", "vision"),
    "audio": ("audio", "wav", "speech", "sound", "mel", "mfcc", "spectro", "voice"),
    "text": ("text", "token", "word", "char", "ids", "sentence"),
}


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as the skeleton sees it: name, shape without batch, dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    activation: str | None = None


def guess_modality(tensor: TensorInfo) -> tuple[str | None, str]:
    """The modality that fits the tensor (and its name, when it says), with the reason."""
    fits = _fitting(tensor)
    lowered = tensor.name.lower()
    for modality, hints in NAME_HINTS.items():
        if modality in fits and any(hint in lowered for hint in hints):
            return modality, f"from its name and {fits[modality]}"
    if fits:
        modality = next(iter(fits))
        return modality, f"from {fits[modality]}"
    return None, f"no modality fits shape {tensor.shape} {tensor.dtype}"


def _fitting(tensor: TensorInfo) -> dict[str, str]:
    shape, integer = tensor.shape, tensor.dtype.startswith(("int", "uint"))
    fits: dict[str, str] = {}
    if None in shape:
        return fits
    if integer and len(shape) == 1:
        fits["text"] = f"its shape ({shape[0]} token ids)"
    if len(shape) == 3 and (shape[-1] in (1, 3) or shape[0] in (1, 3)):
        if tensor.dtype.startswith("float") or tensor.dtype == "uint8":
            fits["image"] = f"its shape {shape} (an image with channels)"
    if tensor.dtype.startswith("float") and (
        len(shape) == 2 or (len(shape) == 3 and shape[-1] == 1)
    ):
        fits["audio"] = f"its shape {shape} (frames x features)"
        if len(shape) == 2:
            fits.setdefault("image", f"its shape {shape} (a grayscale image)")
    return fits


def render(model_file: str, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str:
    """The skeleton's text."""
    lines = [
        f"# bundle.yaml skeleton written by `python -m app init-bundle` from {model_file}.",
        "# Fill in every TODO, then check it: python -m app check <this folder>",
        "description: TODO one line shown in the model metadata",
        "inputs:",
    ]
    for tensor in inputs:
        modality, why = guess_modality(tensor)
        where = f"model input {tensor.shape}, {tensor.dtype}"
        lines.append(_line(f"  {_key(tensor.name)}:", where))
        if modality is None:
            lines.append(_line("    modality: TODO", f"TODO: text | image | audio ({why})"))
            continue
        lines.append(_line(f"    modality: {modality}", f"guessed {why}; TODO: confirm"))
        lines.append(_line("    missing: zeros", "zeros: fill when absent; required: refuse (422)"))
        lines.append("    params:")
        lines.extend(PARAMS[modality](tensor))
    lines.append("outputs:")
    for tensor in outputs:
        lines.extend(_output(tensor))
    return "\n".join(lines) + "\n"


def _image(tensor: TensorInfo) -> list[str]:
    shape = tensor.shape
    first = len(shape) == 3 and shape[0] in (1, 3) and shape[-1] not in (1, 3)
    height, width = shape[1:] if first else shape[:2]
    scale = "none" if tensor.dtype == "uint8" else "unit"
    return [
        _line(f"      layout: {'channels_first' if first else 'channels_last'}", ""),
        _line("      resize: pad", f"TODO: stretch | crop | pad to {height}x{width}"),
        _line("      pad_value: 0", "TODO: the background colour of the training images"),
        _line("      interpolation: bilinear", "bilinear | bicubic | area | nearest"),
        _line(f"      scale: {scale}", "TODO: unit | symmetric | standard (add mean, std) | none"),
        _line("      invert: false", "true for white-on-black training images"),
    ]


def _audio(tensor: TensorInfo) -> list[str]:
    a, b = tensor.shape[:2]
    time_major = a >= b  # the longer axis is taken for time
    frames, features = (a, b) if time_major else (b, a)
    duration = round((frames - 1) * HOP_LENGTH / SAMPLE_RATE, 6)
    lines = [
        _line(f"      sample_rate: {SAMPLE_RATE}", "TODO: the rate of the training audio"),
        _line(f"      duration_s: {duration}", f"{frames} frames at this rate and hop_length"),
        _line("      n_fft: 512", "TODO: as in training"),
        _line(f"      hop_length: {HOP_LENGTH}", "TODO: as in training (then redo duration_s)"),
    ]
    if features <= MAX_GUESSED_MFCC:
        lines += [
            _line("      features: mfcc", f"TODO: mfcc | log_mel ({features} features)"),
            _line("      n_mels: 40", "TODO: as in training"),
            _line(f"      n_mfcc: {features}", ""),
        ]
    else:
        lines += [
            _line("      features: log_mel", f"TODO: log_mel | mfcc ({features} features)"),
            _line(f"      n_mels: {features}", ""),
        ]
    return lines + [
        _line("      normalize: per_utterance", "TODO: none | per_utterance | stats (stats_file)"),
        _line(f"      layout: {'time_major' if time_major else 'feature_major'}", ""),
    ]


def _text(tensor: TensorInfo) -> list[str]:
    return [
        _line("      vocabulary: vocab.txt", "TODO: write it: a token a line, 0 pads, 1 is OOV"),
        _line("      tokenizer: word", "TODO: word | char, as in training"),
        _line("      lowercase: true", "after Unicode NFKC normalisation"),
    ]


PARAMS = {"image": _image, "audio": _audio, "text": _text}


def _output(tensor: TensorInfo) -> list[str]:
    lines = [_line(f"  {_key(tensor.name)}:", f"model output {tensor.shape}, {tensor.dtype}")]
    if len(tensor.shape) != 1 or tensor.shape[0] is None:
        return lines + [_line("    kind: TODO", "only (batch, n) outputs can be served")]
    if tensor.activation in ("softmax", "sigmoid"):
        units = tensor.shape[0]
        return lines + [
            _line("    kind: classification", f"guessed from its {tensor.activation}"),
            _line("    labels: labels.txt", f"TODO: write {units} labels, one a line, in order"),
        ]
    why = f"its activation is {tensor.activation}" if tensor.activation else "no softmax seen"
    return lines + [
        _line("    kind: embedding", f"guessed ({why}); TODO: or classification + labels")
    ]


def _line(text: str, comment: str) -> str:
    return f"{text.ljust(COMMENT_COLUMN)}# {comment}" if comment else text


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][\w.-]*", name) else json.dumps(name)
