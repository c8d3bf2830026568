"""Number words to ASCII digits: a bundle's table of words for 0-9 in many languages and scripts.

The table (``number_words: numbers.tsv`` in bundle.yaml) is UTF-8 text, a header line
``digit<TAB>language<TAB>word``, then one word a line; blank lines and lines starting with ``#``
are skipped. Its words are compared after NFKC and case folding, the text's words likewise.

In a text, each word (a run of letters, marks and digits between spaces, punctuation and symbols)
that is in the table becomes its digit. A word in Chinese or Japanese script, which runs words
together without spaces, has its table entries replaced wherever they occur in it, longest first
(single-kana entries such as に or ご only as whole words: they are particles too). A word of
``TYPO_MIN_LENGTH`` letters or more that is not in the table becomes the digit of its nearest table
words when they all stand for the same digit and are near enough (a letter dropped, added or
replaced, or two neighbours swapped: Damerau-Levenshtein): ``MAX_TYPOS`` edits from a table word of
``TWO_TYPOS_MIN_LENGTH`` letters or more, one from a word of ``TARGET_MIN_LENGTH``; a tie between
digits leaves it unchanged. A row whose digit is ``-`` names a word that is not a number but lies
near one ("digit" is two edits from "eight", "trips" from "trois"): it stays as it is. Shorter
words get no tolerance: one edit turns common words into number words (the -> tre, for -> four,
mine -> nine).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from app.errors import BundleError

HEADER = ("digit", "language", "word")
KEEP = "-"  # the digit column of a word that is not a number word, kept from typo matching
MAX_TYPOS = 2
TYPO_MIN_LENGTH = 5
# Table words shorter than TARGET_MIN_LENGTH are no typo's target, and those shorter than
# TWO_TYPOS_MIN_LENGTH one edit's only: two edits reach four-letter words (tres, vier, ling) from
# too many English ones (bring, river, thing). With two edits to any of them, 1,056 of the 63,993
# lower-case words of Debian's wamerican list read as digits; with these limits 520, of which 10
# are plurals (sevens) and the other 510 kept rows of the digits bundle's numbers.tsv.
TARGET_MIN_LENGTH = 4
TWO_TYPOS_MIN_LENGTH = 5
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?")
# Han ideographs (and 〇) and kana: scripts written without spaces between words.
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA = "\u3040-\u30ff"
_CJK_RE = re.compile(f"[{_HAN}{_KANA}]")
_HAN_RE = re.compile(f"[{_HAN}]")


def _mark_ranges() -> str:
    """A regex class body of the Basic Multilingual Plane's combining marks (Unicode M*)."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


# A word: letters and digits (\w less "_") with their combining marks (Devanagari vowel signs,
# Arabic harakat, Tamil virama...), which \w alone would split words at.
_WORD_RE = re.compile(rf"(?:[^\W_]|[{_mark_ranges()}])+")


def _typos_allowed(word: str) -> int:
    """How many edits a typo may be from table word ``word``."""
    return MAX_TYPOS if len(word) >= TWO_TYPOS_MIN_LENGTH else 1


def normalised(word: str) -> str:
    """``word`` as the table compares it: NFKC, then case folded."""
    return unicodedata.normalize("NFKC", word).casefold()


class NumberWords:
    """A number-word table, with its lookups built once."""

    def __init__(self, words: dict[str, str], source: str = "number words") -> None:
        """``words``: normalised word -> its ASCII digit."""
        self.source = source
        self.words = dict(words)
        cjk = [
            w
            for w, d in words.items()
            if d != KEEP and _CJK_RE.search(w) and (_HAN_RE.search(w) or len(w) > 1)
        ]
        # Longest first, so 九 inside 九九 is not cut short and きゅう wins over く.
        self._cjk_re = (
            re.compile("|".join(re.escape(w) for w in sorted(cjk, key=len, reverse=True)))
            if cjk
            else None
        )
        # Candidates for a typo of length n: the non-CJK entries it may be a typo of, by length.
        # Kept words are no candidates: one protects itself, not its typos ("sevem" is 7, though
        # one edit from the kept "sever").
        plain = [
            w
            for w, d in words.items()
            if d != KEEP and not _CJK_RE.search(w) and len(w) >= TARGET_MIN_LENGTH
        ]
        longest = max((len(w) for w in plain), default=0) + MAX_TYPOS
        self._near: dict[int, list[str]] = {
            n: [w for w in plain if abs(len(w) - n) <= _typos_allowed(w)]
            for n in range(TYPO_MIN_LENGTH, longest + 1)
        }

    @classmethod
    def load(cls, path: Path, name: str) -> NumberWords:
        """The table at ``path``; a BundleError naming the line when the file is not one."""
        where = f"number_words {name}"
        if not path.is_file():
            raise BundleError(f"{where}: the file is missing")
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except UnicodeDecodeError as exc:
            raise BundleError(f"{where}: not valid UTF-8 (byte {exc.start})") from None
        if not lines or tuple(lines[0].split("\t")) != HEADER:
            raise BundleError(f"{where} line 1: the header must be {chr(9).join(HEADER)!r}")
        words: dict[str, str] = {}
        first_line: dict[str, int] = {}
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != len(HEADER):
                raise BundleError(
                    f"{where} line {number}: {len(fields)} tab-separated fields, expected 3 "
                    f"(digit, language, word): {line!r}"
                )
            digit, language, word = (f.strip() for f in fields)
            if len(digit) != 1 or digit not in "0123456789" + KEEP:
                raise BundleError(
                    f"{where} line {number}: digit {digit!r} is not one of 0-9 or {KEEP!r}"
                )
            if not _LANGUAGE_RE.fullmatch(language):
                raise BundleError(
                    f"{where} line {number}: language {language!r} is not a code such as "
                    "'ru' or 'ja-Latn'"
                )
            key = normalised(word)
            if not key or _WORD_RE.fullmatch(key) is None:
                raise BundleError(
                    f"{where} line {number}: word {word!r} must be one word of letters "
                    "(no spaces, punctuation or symbols)"
                )
            if words.get(key, digit) != digit:
                raise BundleError(
                    f"{where} line {number}: {word!r} is digit {digit} here but {words[key]} "
                    f"on line {first_line[key]}"
                )
            words[key] = digit
            first_line.setdefault(key, number)
        if all(d == KEEP for d in words.values()):
            raise BundleError(f"{where}: no words after the header")
        return cls(words, name)

    def replace(self, text: str) -> str:
        """``text`` with every number word replaced by its ASCII digit."""
        return _WORD_RE.sub(self._word, text)

    def digit(self, word: str) -> str | None:
        """The digit a whole word stands for, exactly or by a typo; None if none."""
        key = word if word.isascii() and word.islower() else normalised(word)
        found = self.words.get(key)
        if found is not None or len(key) < TYPO_MIN_LENGTH or any(c.isdecimal() for c in key):
            return None if found == KEEP else found
        candidates = self._near.get(len(key))
        if not candidates or _CJK_RE.search(key):
            return None
        matches = process.extract(
            key, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=MAX_TYPOS, limit=None
        )
        matches = [(w, d) for w, d, _ in matches if d <= _typos_allowed(w)]
        if not matches:
            return None
        best = min(distance for _, distance in matches)
        digits = {self.words[w] for w, distance in matches if distance == best}
        return digits.pop() if len(digits) == 1 else None

    def _word(self, match: re.Match[str]) -> str:
        word = match.group()
        if word.isdecimal() and word.isascii():
            return word
        found = self.digit(word)
        if found is not None:
            return found
        if self._cjk_re is not None and _CJK_RE.search(word):
            key = normalised(word)
            replaced = self._cjk_re.sub(lambda m: self.words[m.group()], key)
            return replaced if replaced != key else word
        return word
