"""A bundle.yaml skeleton from a model's inputs and outputs: a modality and a request part guessed
per input, a kind per output, TODO comments wherever only the person who trained the model knows."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from app.model.model_file import TensorInfo

# Feature-axis sizes up to this are taken for MFCCs, larger ones for log-mel bands.
MAX_GUESSED_MFCC = 20
SAMPLE_RATE = 16000
HOP_LENGTH = 160
# A float vector at least this long is taken for raw audio samples (1000 samples: 1/16 s at 16 kHz).
MIN_WAVEFORM_SAMPLES = 1000
# Rates tried for a waveform, the likeliest first: the roundest duration wins, ties go first.
WAVEFORM_RATES = (16000, 44100, 22050, 8000)
ROUND_DECIMALS = 2  # a duration of whole hundredths of a second is round
# Square sizes of the keras.applications backbones (ResNet, MobileNet, Inception, EfficientNet...).
BACKBONE_SIDES = (224, 240, 260, 299, 300, 331, 380, 456, 528, 600)
HF_FEEDS = ("input_ids", "attention_mask", "token_type_ids")
COMMENT_COLUMN = 34
NAME_HINTS = {
    "image": ("image", "img", "pixel", "photo", "picture", "vision"),
    "audio": ("audio", "wav", "speech", "sound", "mel", "mfcc", "spectro", "voice"),
    "text": ("text", "token", "word", "char", "ids", "sentence"),
}
EMBEDDING_HINTS = ("embed", "vector", "encoding")


@dataclass(frozen=True)
class Guess:
    """What the skeleton makes of one model input."""

    tensor: TensorInfo
    modality: str | None
    why: str
    unit: str  # inputs of one unit share a request part (a tokenizer's tensors), others do not
    part: str  # the unit's part name, when it needs one
    feed: str | None = None  # the Hugging Face tokenizer tensor this input takes


def guess_modality(tensor: TensorInfo) -> tuple[str | None, str]:
    """The modality that fits the tensor (and its name, when it says), with the reason."""
    if tensor.dtype == "string":
        return "text", "from its dtype (a string input: the text itself)"
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
    floating = tensor.dtype.startswith(("float", "bfloat"))
    fits: dict[str, str] = {}
    if None in shape:
        return fits
    if _is_waveform(tensor):
        return {"audio": f"its shape {shape} (raw samples)"}
    if integer and len(shape) == 1:
        fits["text"] = f"its shape ({shape[0]} token ids)"
    if len(shape) == 3 and (shape[-1] in (1, 3) or shape[0] in (1, 3)):
        if floating or tensor.dtype == "uint8":
            fits["image"] = f"its shape {shape} (an image with channels)"
    if floating and (len(shape) == 2 or (len(shape) == 3 and shape[-1] == 1)):
        fits["audio"] = f"its shape {shape} (frames x features)"
        if len(shape) == 2:
            fits.setdefault("image", f"its shape {shape} (a grayscale image)")
    return fits


def _is_waveform(tensor: TensorInfo) -> bool:
    shape = tensor.shape
    return (
        tensor.dtype.startswith("float")
        and len(shape) in (1, 2)
        and shape[1:] in ((), (1,))
        and (shape[0] or 0) >= MIN_WAVEFORM_SAMPLES
    )


def _hf_feed(tensor: TensorInfo) -> tuple[str, str] | None:
    """(part, feed) for an input named like a Hugging Face tokenizer's tensor, maybe prefixed."""
    if not tensor.dtype.startswith(("int", "uint")) or len(tensor.shape) != 1:
        return None
    for feed in HF_FEEDS:
        if tensor.name == feed:
            return "text", feed
        if tensor.name.endswith(f"_{feed}"):
            return tensor.name[: -len(feed) - 1], feed
    return None


def guess_inputs(inputs: list[TensorInfo]) -> list[Guess]:
    """One guess per input, in the model's order."""
    guesses = []
    for tensor in inputs:
        hf = _hf_feed(tensor)
        if hf is not None:
            why = f"from its name (a Hugging Face tokenizer's {hf[1]})"
            guesses.append(Guess(tensor, "text", why, f"hf:{hf[0]}", _part(hf[0]), feed=hf[1]))
        else:
            modality, why = guess_modality(tensor)
            guesses.append(Guess(tensor, modality, why, f"input:{tensor.name}", _part(tensor.name)))
    return guesses


def parts(guesses: list[Guess]) -> dict[str, str | None]:
    """The request part of each unit; None where the default (the modality's name) serves.

    Two inputs of one modality take a part each, named after them; a tokenizer's tensors share
    one part, named always since several inputs take it.
    """
    units: dict[str, set[str]] = {}
    for guess in guesses:
        if guess.modality is not None:
            units.setdefault(guess.modality, set()).add(guess.unit)

    def alone(guess: Guess) -> bool:
        return guess.feed is None and len(units.get(guess.modality or "", ())) < 2

    # A unit left to its default part takes the modality's name: no named part may take it too.
    taken = {g.modality for g in guesses if g.modality is not None and alone(g)}
    named: dict[str, str | None] = {}
    for guess in guesses:
        if guess.unit in named:
            continue
        part = None if alone(guess) else guess.part
        while part is not None and part in taken:
            part += "_2"
        if part is not None:
            taken.add(part)
        named[guess.unit] = part
    return named


def render(model_file: str, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> str:
    """The skeleton's text."""
    lines = [
        f"# bundle.yaml skeleton written by `python -m app init-bundle` from {model_file}.",
        "# Fill in every TODO, then check it: python -m app check <this folder>",
        "description: TODO one line shown in the model metadata",
        "inputs:",
    ]
    guesses = guess_inputs(inputs)
    named = parts(guesses)
    for guess in guesses:
        lines.extend(_input(guess, named[guess.unit], guesses))
    lines.append("outputs:")
    labelled = [t for t in outputs if t.activation in ("softmax", "sigmoid")]
    for tensor in outputs:
        labels = "labels.txt" if len(labelled) < 2 else f"{_file_stem(tensor.name)}_labels.txt"
        lines.extend(_output(tensor, labels))
    return "\n".join(lines) + "\n"


def _input(guess: Guess, part: str | None, guesses: list[Guess]) -> list[str]:
    tensor, modality = guess.tensor, guess.modality
    lines = [_line(f"  {_key(tensor.name)}:", f"model input {tensor.shape}, {tensor.dtype}")]
    if modality is None:
        return lines + [_line("    modality: TODO", f"TODO: text | image | audio ({guess.why})")]
    lines.append(_line(f"    modality: {modality}", f"guessed {guess.why}; TODO: confirm"))
    if part is not None:
        together = [g.tensor.name for g in guesses if g.unit == guess.unit]
        why = (
            f"one text feeds {', '.join(together)}"
            if len(together) > 1
            else f"the request field of this {modality}, beside the other {modality} parts"
        )
        lines.append(_line(f"    part: {_key(part)}", why))
    lines.append(_line("    missing: zeros", "zeros: fill when absent; required: refuse (422)"))
    lines.append("    params:")
    if guess.feed is not None:
        return lines + _hf(guess.feed)
    return lines + PARAMS[modality](tensor)


def _image(tensor: TensorInfo) -> list[str]:
    shape = tensor.shape
    first = len(shape) == 3 and shape[0] in (1, 3) and shape[-1] not in (1, 3)
    height, width = shape[1:] if first else shape[:2]
    lines = [
        _line(f"      layout: {'channels_first' if first else 'channels_last'}", ""),
        _line("      resize: pad", f"TODO: stretch | crop | pad to {height}x{width}"),
        _line("      pad_value: 0", "TODO: the background colour of the training images"),
        _line("      interpolation: bilinear", "bilinear | bicubic | area | nearest"),
    ]
    if tensor.dtype == "uint8":
        lines.append(_line("      scale: none", "a uint8 input takes the pixels themselves"))
    else:
        if height == width and height in BACKBONE_SIDES and 3 in (shape[0], shape[-1]):
            lines.append(
                "      # A keras.applications backbone? Scale as its preprocess_input: caffe "
                "(ResNet50, VGG), torch (DenseNet), symmetric (MobileNetV2, Xception, Inception, "
                "ResNetV2), none (EfficientNet, ConvNeXt, MobileNetV3 scale inside)."
            )
        todo = "TODO: unit | symmetric | standard (add mean, std) | caffe | torch | none"
        lines.append(_line("      scale: unit", todo))
    return lines + [_line("      invert: false", "true for white-on-black training images")]


def _audio(tensor: TensorInfo) -> list[str]:
    if _is_waveform(tensor):
        return _waveform(tensor.shape[0] or 0)
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


def guess_sample_rate(samples: int) -> int:
    """The rate at which ``samples`` makes the roundest duration (16 kHz on a tie, or when the
    duration is round at none)."""
    best = min(WAVEFORM_RATES, key=lambda rate: _decimals(samples / rate))
    return best if _decimals(samples / best) <= ROUND_DECIMALS else WAVEFORM_RATES[0]


def _waveform(samples: int) -> list[str]:
    rate = guess_sample_rate(samples)
    duration = samples / rate
    return [
        _line("      features: waveform", "the decoded samples: the model makes its features"),
        _line(
            f"      sample_rate: {rate}",
            f"TODO: a guess ({samples} samples are {duration:g} s at it): the training rate",
        ),
        _line(f"      duration_s: {duration!r}", f"{samples} samples at this rate"),
    ]


def _decimals(value: float) -> int:
    text = repr(value)
    return 0 if text.endswith(".0") else len(text.partition(".")[2])


def _text(tensor: TensorInfo) -> list[str]:
    if tensor.dtype == "string":
        lines = [
            _line("      tokenizer: raw", "the text itself: the model vectorises it"),
            _line(
                "      lowercase: false",
                "TextVectorization lowercases itself; TODO: true if training text was lowercased",
            ),
        ]
        if tensor.shape not in ((), (1,)):
            lines.append("      # TODO: a raw text input has shape () or (1,), not this one")
        return lines
    return [
        _line("      vocabulary: vocab.txt", "TODO: write it: a token a line, 0 pads, 1 is OOV"),
        _line("      tokenizer: word", "TODO: word | char, as in training"),
        _line("      lowercase: true", "after Unicode NFKC normalisation"),
    ]


def _hf(feed: str) -> list[str]:
    return [
        _line("      tokenizer: hf", "a Hugging Face tokenizer.json (the tokenizers library)"),
        _line(
            "      tokenizer_file: tokenizer.json",
            "TODO: copy in the tokenizer.json the model was trained with",
        ),
        _line(f"      feed: {feed}", "which of the tokenizer's tensors this input takes"),
    ]


PARAMS = {"image": _image, "audio": _audio, "text": _text}


def _output(tensor: TensorInfo, labels: str) -> list[str]:
    lines = [_line(f"  {_key(tensor.name)}:", f"model output {tensor.shape}, {tensor.dtype}")]
    if len(tensor.shape) != 1 or tensor.shape[0] is None:
        return lines + [_line("    kind: TODO", "only (batch, n) outputs can be served")]
    units = tensor.shape[0]
    write = f"TODO: write {units} labels, one a line, in order"
    if tensor.activation == "softmax":
        return lines + [
            _line("    kind: classification", "guessed from its softmax"),
            _line(f"    labels: {_key(labels)}", write),
        ]
    if tensor.activation == "sigmoid":
        return lines + [
            _line("    kind: multilabel", "guessed from its sigmoid (independent scores)"),
            _line(f"    labels: {_key(labels)}", write),
            _line("    threshold: 0.5", "TODO: answer every label scoring at least this"),
        ]
    linear = tensor.activation in (None, "linear")
    if not linear or any(hint in tensor.name.lower() for hint in EMBEDDING_HINTS):
        why = f"its {tensor.activation} activation" if not linear else "its name"
        return lines + [_line("    kind: embedding", f"guessed from {why}; TODO: or regression")]
    why = f"its activation is {tensor.activation}" if tensor.activation else "no softmax seen"
    names = ", ".join(f"{tensor.name}_{i}" for i in range(units)) if units <= 8 else "..."
    return lines + [
        _line("    kind: regression", f"guessed ({why}); TODO: or embedding (no names)"),
        _line(f"    # names: [{names}]", "optional: answer {name: value}, one per unit"),
    ]


def _line(text: str, comment: str) -> str:
    # At least one space before "#": YAML reads "value# text" as part of the value.
    return f"{(text + ' ').ljust(COMMENT_COLUMN)}# {comment}" if comment else text


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][\w.-]*", name) else json.dumps(name)


def _part(name: str) -> str:
    # Part names travel as multipart field names, JSON keys and v2 tensor names.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".-")[:64] or "part"


def _file_stem(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name).strip(".") or "output"
