"""HfTextPreprocessor against the tokenizers library's own encode, for WordPiece, BPE and Unigram
tokenizer.json files trained here on a generated corpus (no download)."""

from __future__ import annotations

import json
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers.processors import TemplateProcessing

from app.errors import BundleError, UnprocessableInput
from app.preprocessing import HfTextPreprocessor, make_preprocessor

LENGTH = 12
WORDS = (
    "the quick brown fox jumps over lazy dog café naïve straße 七 八 🙂 tokenizer bundle".split()
)
TEXTS = [
    "the fox",  # short: padded
    "The Quick Brown Fox",
    " ".join(WORDS * 3),  # over-long: truncated with the special tokens kept
    "naïve café, straße! 七八 🙂",
    "zebra xylophone",  # pieces the corpus barely has
    "fox",
]


def corpus(lines: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 12))) for _ in range(lines)]


def wordpiece() -> Tokenizer:
    """BERT-like: lowercasing normaliser, [CLS] ... [SEP], and a [PAD] that is not id 0."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[UNK]", "[CLS]", "[SEP]", "[PAD]"]
    tok.train_from_iterator(
        corpus(), trainers.WordPieceTrainer(vocab_size=120, special_tokens=special)
    )
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return tok


def bpe() -> Tokenizer:
    """RoBERTa-like byte-level BPE whose file carries its own padding (left, length 7)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<s>", "<pad>", "</s>", "<unk>"]
    tok.train_from_iterator(
        corpus(),
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    tok.enable_padding(
        length=7, pad_id=tok.token_to_id("<pad>"), pad_token="<pad>", direction="left"
    )
    tok.enable_truncation(max_length=5)  # the model's length wins over the file's
    return tok


def unigram() -> Tokenizer:
    """T5-like: Metaspace, text then </s> with type id 1, and no pad token at all."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(
        corpus(),
        trainers.UnigramTrainer(
            vocab_size=150, special_tokens=["<unk>", "</s>"], unk_token="<unk>"
        ),
    )
    tok.post_processor = TemplateProcessing(
        single="$A:1 </s>:1", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    return tok


# name -> (builder, model type, pad id, pad direction, pad token)
KINDS = {
    "wordpiece": (wordpiece, "WordPiece", 3, "right", "[PAD]"),
    "bpe": (bpe, "BPE", 1, "left", "<pad>"),
    "unigram": (unigram, "Unigram", 0, "right", None),
}


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hf")
    for name, (build, *_rest) in KINDS.items():
        build().save(str(folder / f"{name}.json"))
    (folder / "broken.json").write_text('{"model": {"type": "WordPiece"', encoding="utf-8")
    (folder / "not_a_tokenizer.json").write_text('{"hello": 1}', encoding="utf-8")
    return folder


def make(bundle_dir: Path, kind: str, length: int = LENGTH, dtype: str = "int64", **params):
    return HfTextPreprocessor(
        {"tokenizer": "hf", "tokenizer_file": f"{kind}.json", **params},
        bundle_dir=bundle_dir,
        shape=(length,),
        dtype=dtype,
    )


def reference(bundle_dir: Path, kind: str, text: str, length: int = LENGTH):
    """The tokenizers library's own padded, truncated encoding, on a separate instance."""
    _build, _model, pad_id, direction, pad_token = KINDS[kind]
    tok = Tokenizer.from_file(str(bundle_dir / f"{kind}.json"))
    tok.enable_truncation(max_length=length)
    tok.enable_padding(
        length=length, pad_id=pad_id, pad_token=pad_token or "[PAD]", direction=direction
    )
    return tok.encode(text, add_special_tokens=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", TEXTS)
def test_tensors_equal_the_tokenizers_own_encoding(bundle_dir, kind, text):
    out = make(bundle_dir, kind)(text.encode("utf-8"))
    expected = reference(bundle_dir, kind, text)
    assert set(out) == set(HfTextPreprocessor.FEEDS)
    for feed, values in (
        ("input_ids", expected.ids),
        ("attention_mask", expected.attention_mask),
        ("token_type_ids", expected.type_ids),
    ):
        assert out[feed].dtype == np.int64 and out[feed].shape == (LENGTH,)
        assert out[feed].tolist() == values, feed


@pytest.mark.parametrize(
    "kind,text,first,last",
    [
        ("wordpiece", "the fox", "[CLS]", "[PAD]"),
        ("wordpiece", " ".join(WORDS * 3), "[CLS]", "[SEP]"),  # truncation keeps [SEP]
        ("bpe", "the fox", "<pad>", "</s>"),  # the file's left padding is kept
        ("bpe", " ".join(WORDS * 3), "<s>", "</s>"),
        ("unigram", " ".join(WORDS * 3), None, "</s>"),
    ],
)
def test_special_tokens_survive_truncation(bundle_dir, kind, text, first, last):
    ids = make(bundle_dir, kind)(text)["input_ids"].tolist()
    tok = Tokenizer.from_file(str(bundle_dir / f"{kind}.json"))
    if first:
        assert tok.id_to_token(ids[0]) == first
    assert tok.id_to_token(ids[-1]) == last


def test_bom_is_dropped_and_steps_apply_when_set(bundle_dir):
    plain = make(bundle_dir, "bpe")("the fox")
    assert make(bundle_dir, "bpe")("\ufeffthe fox".encode())["input_ids"].tolist() == (
        plain["input_ids"].tolist()
    )
    # Byte-level BPE keeps case: lowercase is ours to apply, and only when the bundle sets it.
    upper = make(bundle_dir, "bpe")("THE FOX")["input_ids"]
    lowered = make(bundle_dir, "bpe", lowercase=True)("THE FOX")["input_ids"]
    assert upper.tolist() != plain["input_ids"].tolist()
    assert lowered.tolist() == plain["input_ids"].tolist()


@pytest.mark.parametrize("data,fragment", [("", "empty"), (b"\xff", "UTF-8"), ("a\x00", "U+0000")])
def test_unusable_text_is_422(bundle_dir, data, fragment):
    with pytest.raises(UnprocessableInput, match=re.escape(fragment)):
        make(bundle_dir, "wordpiece")(data)


def test_concurrent_calls_agree(bundle_dir):
    pre = make(bundle_dir, "wordpiece")
    expected = [pre(t)["input_ids"].tolist() for t in TEXTS]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: pre(t)["input_ids"].tolist(), TEXTS * 20))
    assert results == expected * 20


@pytest.mark.parametrize("kind", KINDS)
def test_describe(bundle_dir, kind):
    _build, model, pad_id, direction, pad_token = KINDS[kind]
    described = make(bundle_dir, kind).describe()
    json.dumps(described)
    assert described["tokenizer"] == "hf" and described["model"] == model
    assert described["pad_id"] == pad_id and described["pad_token"] == pad_token
    assert described["padding_side"] == direction and described["max_length"] == LENGTH
    assert described["vocabulary_size"] == Tokenizer.from_file(
        str(bundle_dir / f"{kind}.json")
    ).get_vocab_size(with_added_tokens=True)
    assert ("pad_note" in described) == (pad_token is None)


def test_make_preprocessor_picks_hf_and_defaults_to_tokenizer_json(bundle_dir, tmp_path):
    (tmp_path / "tokenizer.json").write_bytes((bundle_dir / "wordpiece.json").read_bytes())
    pre = make_preprocessor(
        "text", {"tokenizer": "hf"}, bundle_dir=tmp_path, shape=(LENGTH,), dtype="int32"
    )
    assert isinstance(pre, HfTextPreprocessor) and pre.multi_feed
    assert pre.describe()["tokenizer_file"] == "tokenizer.json"
    assert pre("the fox")["input_ids"].dtype == np.int64  # the bundle casts to each input's dtype


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"tokenizer_file": "broken.json"}, "tokenizer_file 'broken.json' cannot be loaded: "),
        ({"tokenizer_file": "not_a_tokenizer.json"}, "'not_a_tokenizer.json' cannot be loaded"),
        ({"tokenizer_file": "nowhere.json"}, "tokenizer_file 'nowhere.json' is missing"),
        ({"tokenizer_file": "../hf/x.json"}, "must be a plain path inside the bundle folder"),
        ({"tokenizer_file": "/etc/passwd"}, "must be a plain path inside the bundle folder"),
        ({"dtype": "string"}, "a string input needs tokenizer: raw, not 'hf'"),
        ({"dtype": "float32"}, "gives integer token ids, the model input is float32"),
        ({"shape": (LENGTH, 2)}, "shape (length,)"),
        ({"max_length": 64}, "max_length 64 in bundle.yaml but the model input takes 12"),
        ({"vocabulary": "vocab.txt"}, "vocabulary is not used with tokenizer 'hf'"),
        ({"feed": "input_ids"}, "unknown text parameters ['feed']"),
        ({"shape": (2,)}, "adds 2 special tokens, leaving no room"),
    ],
)
def test_bundle_mistakes(bundle_dir, kwargs, fragment):
    args = {"shape": (LENGTH,), "dtype": "int32"}
    params = {"tokenizer": "hf", "tokenizer_file": "wordpiece.json"}
    for key, value in kwargs.items():
        (args if key in args else params)[key] = value
    with pytest.raises(BundleError) as caught:
        HfTextPreprocessor(params, bundle_dir=bundle_dir, **args)
    assert fragment in str(caught.value)
