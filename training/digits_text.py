"""Typed digits: number words in nine languages, numerals, templates and keyboard typos.

Held out by spelling: the test texts use templates the training texts never use, and their typos
are misspellings that never occur in any training text. Every test text is absent from training.
"""

from __future__ import annotations

import random

# One row per language, digits 0-9; "|" separates accepted spellings (accents and none).
WORDS = {
    "en": "zero|oh one two three four five six seven eight nine",
    "de": "null eins|ein zwei drei vier fünf|funf|fuenf sechs sieben acht neun",
    "fr": "zéro|zero un|une deux trois quatre cinq six sept huit neuf",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve",
    "it": "zero uno due tre quattro cinque sei sette otto nove",
    "pt": "zero um dois três|tres quatro cinco seis sete oito nove",
    "nl": "nul een twee drie vier vijf zes zeven acht negen",
    "sv": "noll ett två|tva tre fyra fem sex sju åtta|atta nio",
    "pl": "zero jeden dwa trzy cztery pięć|piec sześć|szesc siedem osiem dziewięć|dziewiec",
}
NUMERALS = ("0123456789", "〇一二三四五六七八九", "٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９")
TRAIN_TEMPLATES = (
    "{w}", "{w}", "{w}", "{W}", "{U}", "{w}.", "{W}.", "{w}!", "{w}?", "number {w}",
    "the number {w}", "digit {w}", "the digit {w}", "it's {w}", "{w} ({n})", "just {w}",
    "nummer {w}", "numéro {w}", "número {w}", "{w} {f}", "{f} {w}", "{f} {w} {f}", "'{w}'",
)  # fmt: skip
TEST_TEMPLATES = (
    "it is a {w}", "i think it's {w}", "answer: {w}", "{w}, please", "my number is {w}",
    "digit: {w}", "numero {w}", "\"{W}\"", "{W}!!", "ok {w}",
)  # fmt: skip
# Words with no digit in them, so the model learns that context is not evidence.
FILLERS = (
    "the", "a", "is", "this", "that", "was", "say", "write", "please", "okay", "hmm", "yes",
    "me", "you", "and", "then", "look", "here", "now", "das", "ist", "le", "la", "el", "es",
    "wait", "so", "well", "guess", "mine", "to", "of", "in",
)  # fmt: skip
# QWERTY neighbours for substitution and insertion typos.
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
TRAIN_TEXTS = 24_000
TEST_TEXTS = 1_500


def digit_words() -> dict[int, list[str]]:
    """Every spelling of each digit, across languages."""
    words: dict[int, list[str]] = {d: [] for d in range(10)}
    for row in WORDS.values():
        for digit, spellings in enumerate(row.split()):
            for word in spellings.split("|"):
                if word not in words[digit]:
                    words[digit].append(word)
    return words


def _neighbours(char: str) -> str:
    for r, row in enumerate(KEYBOARD_ROWS):
        c = row.find(char)
        if c >= 0:
            near = row[max(c - 1, 0) : c + 2].replace(char, "")
            for other in (r - 1, r + 1):
                if 0 <= other < len(KEYBOARD_ROWS):
                    near += KEYBOARD_ROWS[other][max(c - 1, 0) : c + 1]
            return near
    return "aeiou"


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one keyboard slip: a letter dropped, doubled, swapped, replaced or added."""
    i = rng.randrange(len(word))
    kind = rng.choice(("drop", "double", "swap", "replace", "insert"))
    if kind == "drop" and len(word) > 3:
        return word[:i] + word[i + 1 :]
    if kind == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "replace":
        return word[:i] + rng.choice(_neighbours(word[i])) + word[i + 1 :]
    if kind == "insert":
        return word[:i] + rng.choice(_neighbours(word[i])) + word[i:]
    return word[:i] + word[i] + word[i:]


def _render(template: str, word: str, digit: int, rng: random.Random) -> str:
    text = template
    while "{f}" in text:
        text = text.replace("{f}", rng.choice(FILLERS), 1)
    return text.format(w=word, W=word.capitalize(), U=word.upper(), n=digit)


Texts = list[tuple[int, str, str]]


def _unseen_typo(word: str, rng: random.Random, seen: set[str]) -> str | None:
    """A misspelling of ``word`` (one slip, else two) that is not in ``seen``, if one is found."""
    for attempt in range(40):
        candidate = typo(word, rng)
        if attempt >= 20:
            candidate = typo(candidate, rng)
        if candidate not in seen:
            return candidate
    return None


def make_texts(seed: int) -> tuple[Texts, Texts]:
    """(train, test) lists of (digit, text, kind: numeral|word|typo); no test text in train."""
    rng = random.Random(seed)
    words = digit_words()
    train: Texts = []
    train_words: set[str] = set()
    for _ in range(TRAIN_TEXTS):
        digit = rng.randrange(10)
        if rng.random() < 0.12:
            train.append((digit, rng.choice(NUMERALS)[digit], "numeral"))
            continue
        word = rng.choice(words[digit])
        edits = rng.choices((0, 1, 2), weights=(55, 35, 10))[0] if len(word) >= 4 else 0
        for _ in range(edits):
            word = typo(word, rng)
        train_words.add(word)
        text = _render(rng.choice(TRAIN_TEMPLATES), word, digit, rng)
        train.append((digit, text, "typo" if edits else "word"))
    seen_texts = {text for _, text, _ in train}
    all_spellings = {w: d for d, ws in words.items() for w in ws}
    test: Texts = []
    while len(test) < TEST_TEXTS:
        digit = rng.randrange(10)
        word = rng.choice(words[digit])
        kind = "word"
        if rng.random() < 0.5 and len(word) >= 4:
            kind = "typo"
            # A held-out misspelling: never typed in training, and not itself a real spelling.
            word = _unseen_typo(word, rng, train_words | set(all_spellings))
            if word is None:
                continue
        text = _render(rng.choice(TEST_TEMPLATES), word, digit, rng)
        if text not in seen_texts:
            test.append((digit, text, kind))
    return train, test
