"""Hugging Face tokenizer.json files trained here on a small corpus (nothing from a hub)."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the red shoe has a white sole",
    "a blue shirt with long sleeves and a pocket",
    "green trousers, slim fit, cotton",
    "seven small cats sat on the warm mat",
    "an old brown leather bag with two straps",
    "the quick brown fox jumps over the lazy dog",
] * 20
SPECIALS = {
    "wordpiece": ["[PAD]", "[UNK]", "[CLS]", "[SEP]"],
    "bpe": ["<pad>", "<unk>", "<s>", "</s>"],
}


def write_tokenizer(path: Path, kind: str = "wordpiece", vocab_size: int = 200) -> Path:
    """A WordPiece (BERT-style), BPE (RoBERTa-style) or Unigram tokenizer.json at ``path``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing

    if kind == "wordpiece":
        specials = SPECIALS["wordpiece"]
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
        first, last = "[CLS]", "[SEP]"
    elif kind == "bpe":
        specials = SPECIALS["bpe"]
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials)
        first, last = "<s>", "</s>"
    elif kind == "unigram":
        specials = ["<pad>", "<unk>", "<s>", "</s>"]
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>"
        )
        first, last = "<s>", "</s>"
    else:
        raise ValueError(kind)
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.post_processor = TemplateProcessing(
        single=f"{first} $A {last}",
        pair=f"{first} $A {last} $B:1 {last}:1",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in (first, last)],
    )
    tokenizer.save(str(path))
    return path
