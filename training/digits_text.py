"""Typed digits: number words in nine languages, numerals in every script, phrases and typos.

Held out by spelling: the test texts use templates the training texts never use, their typos are
misspellings that never occur in any training text, and their numerals come from Unicode digit
blocks (Persian, Devanagari, Bengali, Thai, ...) that training never shows (the bundle maps every
Unicode decimal digit to its value). Every test text is absent from training. Test texts come in
the real-world conditions of ``TEST_CONDITIONS``, and in ``EXTRA_TEST_CONDITIONS`` (number words in
other scripts, two typos, keycap and full-width digits: ``extra_test_texts``).
"""

from __future__ import annotations

import random
import sys
import unicodedata

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
VAL_FRACTION = 0.08
TEST_CONDITIONS = ("ascii", "words", "scripts", "typos", "phrases_punctuation")
TEST_PER_DIGIT = 15  # per condition
# Digit blocks that only the held-out texts use (their zero's name starts with one of these).
TEST_SCRIPTS = (
    "EXTENDED ARABIC-INDIC", "DEVANAGARI", "BENGALI", "THAI", "MATHEMATICAL BOLD",
    "MATHEMATICAL SANS-SERIF", "TAMIL", "KHMER", "MYANMAR", "GUJARATI",
)  # fmt: skip
TEST_ASCII_TEMPLATES = ("{n}", "#{n}", "no. {n}", "{n}.", "[{n}]", " {n} ", "={n}")
TEST_PHRASE_TEMPLATES = (
    "It's {W}!!!", "«{w}»", "({w})", "the answer is: {U}.", "{W}?!", "I'd say... {w}",
    "--{w}--", "“{W}”", "*{w}*", "it's {n}, ok?",
)  # fmt: skip
NOISE_ONLY_TEXTS = {"train": 600, "test": 100}  # no digit at all: the corruption
# Held-out conditions that make_texts does not draw (so its texts, the noise too, stay as they
# were): number words outside Latin script, two typos in a long word, keycap and full-width
# digits. ``extra_test_texts`` makes them, from their own random stream, none a training text.
EXTRA_TEST_CONDITIONS = ("world_words", "two_typos", "keycap_fullwidth")
# Number words 0-9 in other scripts ("|" separates variants), written apart from the bundle's
# numbers.tsv so that the held-out texts check it rather than repeat it. Training never sees them.
WORLD_WORDS = {
    "ru": "ноль один|одна|одно два|две три четыре пять шесть семь восемь девять",
    "ar": "صفر واحد اثنان|اثنين|إثنان ثلاثة|ثلاث أربعة|اربعة خمسة ستة سبعة ثمانية تسعة",
    "hi": "शून्य एक दो तीन चार पाँच छह सात आठ नौ",
    "mr": "शून्य एक दोन तीन चार पाच सहा सात आठ नऊ",
    "ur": "صفر ایک دو تین چار پانچ چھ سات آٹھ نو",
    "bn": "শূন্য এক দুই তিন চার পাঁচ ছয় সাত আট নয়",
    "te": "సున్నా ఒకటి రెండు మూడు నాలుగు ఐదు ఆరు ఏడు ఎనిమిది తొమ్మిది",
    "ta": "பூஜ்ஜியம் ஒன்று இரண்டு மூன்று நான்கு ஐந்து ஆறு ஏழு எட்டு ஒன்பது",
    "zh": "零 一 二|两 三 四 五 六 七 八 九",
    "ja": "ゼロ|れい いち に さん よん ご ろく なな|しち はち きゅう",
    "ko": "영 하나|일 둘|이 셋|삼 넷|사 다섯|오 여섯|육 일곱|칠 여덟|팔 아홉|구",
}
# Frames in the language itself as well as English ones; "{w}" is the word.
WORLD_TEMPLATES = {
    "ru": ("номер {w}", "это {w}"), "ar": ("الرقم {w}",), "hi": ("संख्या {w}",),
    "zh": ("是{w}", "{w}号"), "ja": ("{w}です", "{w}ばん"), "ko": ("{w} 번",),
}  # fmt: skip
WORLD_ANY_TEMPLATES = ("{w}", "{w}", "{w}", "it is {w}", "answer: {w}", "{w}!", '"{w}"')
# Latin number words of 5+ letters from languages training does not use (Indonesian, Swahili,
# Turkish, English "nought"), so that every digit has long words to misspell twice.
LONG_WORDS = {
    0: ("nought", "kosong", "sifuri"), 1: ("jedna",), 2: ("mbili", "dwie"), 3: ("trzy",),
    4: ("empat", "cztery"), 5: ("pięć",), 6: ("sześć",), 7: ("tujuh",), 8: ("delapan", "sekiz"),
    9: ("sembilan", "dokuz"),
}  # fmt: skip
KEYCAP = "\ufe0f\u20e3"  # 7 + variation selector + combining enclosing keycap = 7️⃣


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


def digit_blocks() -> list[str]:
    """Every Unicode decimal-digit block as a 10-character string, '0' to '9'."""
    blocks = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Nd" and unicodedata.decimal(char) == 0:
            block = "".join(chr(code + d) for d in range(10))
            if [unicodedata.decimal(c, -1) for c in block] == list(range(10)):
                blocks.append(block)
    return blocks


def _is_test_script(block: str) -> bool:
    return unicodedata.name(block[0], "").startswith(TEST_SCRIPTS)


def _gibberish(rng: random.Random, words: dict[int, list[str]]) -> str:
    """A text with no digit and no digit word in it: fillers and random letters."""
    spellings = {w for ws in words.values() for w in ws}
    while True:
        parts = [rng.choice(FILLERS) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            parts.append(
                "".join(rng.choice("bcdfghjklmpqrstvwxyz") for _ in range(rng.randint(3, 7)))
            )
        text = " ".join(rng.sample(parts, len(parts)))
        if not any(w in text.split() for w in spellings):
            return text


def make_texts(seed: int, scale: float = 1.0) -> tuple[Texts, Texts, Texts, Texts]:
    """(train, val, test, noise-only) lists of (digit, text, kind); no test text in train.

    ``kind`` is numeral, word or typo for training texts and the condition for test texts;
    noise-only texts have digit -1. ``scale`` shrinks every count, for quick runs.
    """
    rng = random.Random(seed)
    words = digit_words()
    blocks = digit_blocks()
    train_numerals = [b for b in blocks if not _is_test_script(b)]
    test_numerals = [b for b in blocks if _is_test_script(b)]
    texts: Texts = []
    for _ in range(max(20, round(TRAIN_TEXTS * scale))):
        digit = rng.randrange(10)
        if rng.random() < 0.15:
            numeral = rng.choice(NUMERALS + tuple(train_numerals))[digit]
            template = rng.choice(TRAIN_TEMPLATES) if rng.random() < 0.5 else "{w}"
            texts.append((digit, _render(template, numeral, digit, rng), "numeral"))
            continue
        word = rng.choice(words[digit])
        edits = rng.choices((0, 1, 2), weights=(55, 35, 10))[0] if len(word) >= 4 else 0
        for _ in range(edits):
            word = typo(word, rng)
        text = _render(rng.choice(TRAIN_TEMPLATES), word, digit, rng)
        texts.append((digit, text, "typo" if edits else "word"))
    n_val = round(len(texts) * VAL_FRACTION)
    val, train = texts[:n_val], texts[n_val:]
    seen_texts = {text for _, text, _ in texts}
    train_words = {w for _, t, _ in texts for w in t.split()}
    all_spellings = {w for ws in words.values() for w in ws}
    test: Texts = []
    per_digit = max(1, round(TEST_PER_DIGIT * scale))
    for condition in TEST_CONDITIONS:
        for digit in range(10):
            made = 0
            while made < per_digit:
                text = _test_text(condition, digit, words, test_numerals, rng,
                                  train_words | all_spellings)  # fmt: skip
                if text is not None and text not in seen_texts:
                    test.append((digit, text, condition))
                    made += 1
    noise = [
        (-1, _gibberish(rng, words), "noise_only")
        for _ in range(round(NOISE_ONLY_TEXTS["train"] * scale) or 2)
    ]
    noise += [
        (-1, _gibberish(rng, words), "noise_only_test")
        for _ in range(round(NOISE_ONLY_TEXTS["test"] * scale) or 2)
    ]
    return train, val, test, noise


def _test_text(
    condition: str, digit: int, words: dict[int, list[str]], numerals: list[str],
    rng: random.Random, seen: set[str],
) -> str | None:  # fmt: skip
    if condition == "ascii":
        return rng.choice(TEST_ASCII_TEMPLATES).format(n=digit)
    if condition == "scripts":
        numeral = rng.choice(numerals)[digit]
        return rng.choice(("{n}", "{n}", "no. {n}", "{n}.", "it is {n}")).format(n=numeral)
    word = rng.choice(words[digit])
    if condition == "words":
        return _render(rng.choice(TEST_TEMPLATES), word, digit, rng)
    if condition == "typos":
        if len(word) < 4:
            return None
        misspelt = _unseen_typo(word, rng, seen)
        return (
            None if misspelt is None else _render(rng.choice(TEST_TEMPLATES), misspelt, digit, rng)
        )
    return _render(rng.choice(TEST_PHRASE_TEMPLATES), word, digit, rng)


def world_digit_words() -> dict[int, list[tuple[str, str]]]:
    """Per digit, (language, word) for every word of ``WORLD_WORDS``."""
    out: dict[int, list[tuple[str, str]]] = {d: [] for d in range(10)}
    for language, row in WORLD_WORDS.items():
        for digit, spellings in enumerate(row.split()):
            out[digit] += [(language, w) for w in spellings.split("|")]
    return out


def extra_test_texts(
    seed: int, conditions: tuple[str, ...] = EXTRA_TEST_CONDITIONS, scale: float = 1.0
) -> Texts:
    """Held-out (digit, text, condition) of ``EXTRA_TEST_CONDITIONS``, none a text of
    ``make_texts(seed, scale)``'s training or validation split; ``TEST_PER_DIGIT`` per digit."""
    train, val, _, _ = make_texts(seed, scale)
    seen_texts = {text for _, text, _ in train + val}
    seen_words = {w for _, t, _ in train + val for w in t.split()}
    words = digit_words()
    spellings = {w for ws in words.values() for w in ws}
    world = world_digit_words()
    per_digit = max(1, round(TEST_PER_DIGIT * scale))
    out: Texts = []
    for condition in conditions:
        rng = random.Random(f"{seed}-{condition}")
        for digit in range(10):
            made: set[str] = set()
            for _ in range(per_digit * 200):
                if len(made) == per_digit:
                    break
                text = _extra_text(condition, digit, words, world, rng, seen_words | spellings)
                if text is not None and text not in seen_texts and text not in made:
                    made.add(text)
                    out.append((digit, text, condition))
            if len(made) < per_digit:
                raise ValueError(f"{condition}: only {len(made)} texts for digit {digit}")
    return out


def _extra_text(
    condition: str, digit: int, words: dict[int, list[str]],
    world: dict[int, list[tuple[str, str]]], rng: random.Random, seen: set[str],
) -> str | None:  # fmt: skip
    if condition == "world_words":
        language, word = rng.choice(world[digit])
        own = WORLD_TEMPLATES.get(language, ())
        template = (
            rng.choice(own) if own and rng.random() < 0.4 else rng.choice(WORLD_ANY_TEMPLATES)
        )
        return template.format(w=word)
    if condition == "two_typos":
        long_words = [w for w in (*words[digit], *LONG_WORDS[digit]) if len(w) >= 5]
        if not long_words:
            return None
        word = rng.choice(long_words)
        misspelt = typo(typo(word, rng), rng)
        if misspelt in seen or len(misspelt) < 5 or misspelt == word:
            return None
        return _render(rng.choice(TEST_TEMPLATES), misspelt, digit, rng)
    if condition == "keycap_fullwidth":
        numeral = f"{digit}{KEYCAP}" if rng.random() < 0.5 else chr(0xFF10 + digit)
        return rng.choice(TEST_TEMPLATES + ("{w}", "{w}", "{w}")).format(
            w=numeral, W=numeral, U=numeral, n=digit
        )
    raise ValueError(f"unknown condition {condition!r}; known: {EXTRA_TEST_CONDITIONS}")
