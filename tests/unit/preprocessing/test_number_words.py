"""number_words: a bundle's table of number words turns them into ASCII digits before tokenising."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.errors import BundleError
from app.preprocessing.number_words import NumberWords
from app.preprocessing.text import RawTextPreprocessor, TextPreprocessor

ROOT = Path(__file__).resolve().parents[3]
TABLE = ROOT / "models" / "digits" / "1" / "numbers.tsv"
# Every language of the shipped table, its words for 0-9; "|" separates variants.
WORDS = {
    "en": "zero one two three four five six seven eight nine",
    "zh": "零|〇 一|壹 二|两|贰 三|叁 四 五 六 七 八 九",
    "hi": "शून्य एक दो तीन चार पाँच|पांच छह|छः सात आठ नौ",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve",
    "fr": "zéro un deux trois quatre cinq six sept huit neuf",
    "ar": "صفر واحد اثنان|إثنان|اثنين ثلاثة|ثلاثه أربعة|اربعة خمسة ستة سبعة|سبعه ثمانية تسعة",
    "bn": "শূন্য এক দুই তিন চার পাঁচ ছয় সাত আট নয়",
    "pt": "zero um dois três|tres quatro cinco seis sete oito nove",
    "ru": "ноль один|одна|одно два|две три четыре пять шесть семь восемь девять",
    "ur": "صفر ایک دو تین چار پانچ چھ سات آٹھ نو",
    "id": "nol satu dua tiga empat lima enam tujuh delapan sembilan",
    "de": "null eins zwei drei vier fünf|funf sechs sieben acht neun",
    "ja": "零|れい|ゼロ 一|いち 二|に 三|さん 四|よん|し 五|ご "
    "六|ろく 七|なな|しち 八|はち 九|きゅう|く",
    "sw": "sifuri moja mbili tatu nne tano sita saba nane tisa",
    "mr": "शून्य एक दोन तीन चार पाच सहा सात आठ नऊ",
    "te": "సున్నా ఒకటి రెండు మూడు నాలుగు ఐదు ఆరు ఏడు ఎనిమిది తొమ్మిది",
    "tr": "sıfır|sifir bir iki üç dört beş altı yedi sekiz dokuz",
    "ta": "பூஜ்ஜியம் ஒன்று இரண்டு மூன்று நான்கு ஐந்து ஆறு ஏழு எட்டு ஒன்பது",
    "vi": "không một hai ba bốn năm sáu bảy tám chín",
    "ko": "영|공 일|하나 이|둘 삼|셋 사|넷 오|다섯 육|여섯 칠|일곱 팔|여덟 구|아홉",
    "it": "zero uno due tre quattro cinque sei sette otto nove",
    "nl": "nul een|één twee drie vier vijf zes zeven acht negen",
    "pl": "zero jeden dwa|dwie trzy cztery pięć sześć siedem osiem dziewięć",
}


@pytest.fixture(scope="module")
def table() -> NumberWords:
    return NumberWords.load(TABLE, "numbers.tsv")


def make(bundle_dir: Path, **params) -> TextPreprocessor:
    (bundle_dir / "vocab.txt").write_text("<pad>\n<unk>\n", encoding="utf-8")
    params = {"vocabulary": "vocab.txt", "tokenizer": "word", **params}
    return TextPreprocessor(params, bundle_dir=bundle_dir, shape=(16,), dtype="int32")


def text_of(pre: TextPreprocessor, text: str) -> str:
    return " ".join(pre.tokens(text))


@pytest.mark.parametrize("language", sorted(WORDS))
def test_each_language_maps_its_words_for_0_to_9(table, language):
    for digit, spellings in enumerate(WORDS[language].split()):
        for word in spellings.split("|"):
            assert table.replace(word) == str(digit), (language, word)
            assert table.replace(word.upper()) == str(digit), (language, word)


def test_the_table_covers_at_least_twenty_languages_in_their_own_scripts(table):
    lines = TABLE.read_text(encoding="utf-8").splitlines()[1:]
    languages = {line.split("\t")[1] for line in lines if not line.startswith(("#", "-"))}
    assert len({code.split("-")[0] for code in languages}) >= 20
    assert {d for d in table.words.values()} == set("0123456789-")


@pytest.mark.parametrize(
    ("word", "digit"),
    [
        ("одна", "1"), ("одно", "1"), ("две", "2"), ("трёх", "3"), ("семи", "7"),
        ("إثنان", "2"), ("اثنين", "2"), ("اربعة", "4"), ("أربعة", "4"), ("ثلاثه", "3"),
        ("七", "7"), ("なな", "7"), ("しち", "7"), ("ナナ", "7"), ("キュウ", "9"),
        ("일곱", "7"), ("칠", "7"), ("kyū", "9"), ("shichi", "7"), ("sān", "3"),
        ("छः", "6"), ("पांच", "5"), ("ছয়", "6"), ("Ｓｅｖｅｎ", "7"),
    ],
)  # fmt: skip
def test_variants_map(table, word, digit):
    assert table.replace(word) == digit


@pytest.mark.parametrize(
    ("word", "digit"),
    [("sieebnn", "7"), ("qautro", "4"), ("sembilam", "9"), ("seevn", "7"), ("четыри", "4"),
     ("восем", "8"), ("ochoo", "8")],
)  # fmt: skip
def test_two_typos_in_a_word_of_five_letters_or_more_map(table, word, digit):
    assert table.replace(word) == digit


@pytest.mark.parametrize("word", ["fuor", "sxi", "the", "for", "mine", "tow", "zweo"])
def test_short_words_get_no_tolerance(table, word):
    assert table.replace(word) == word


def test_typos_between_two_digits_are_left_alone(table):
    # "thwee" is one edit from both three (3) and twee (2).
    assert table.replace("thwee") == "thwee"
    assert table.digit("thwee") is None


@pytest.mark.parametrize(
    ("word", "digit"), [("trhee", "3"), ("kosgo", "0"), ("esvne", "7"), ("neuve", "9")]
)
def test_a_swap_of_two_letters_is_one_typo(table, word, digit):
    # Levenshtein counts a swap as two edits: "kosgo" (kosong less its n, then o and g swapped)
    # would be three edits away and left unread.
    assert table.replace(word) == digit


def test_words_near_number_words_that_are_not_ones_are_kept(table):
    # "digit" is two edits from "eight": the table lists it with digit "-".
    assert table.replace("digit: sieben") == "digit: 7"
    assert table.replace("right") == "right"
    assert table.replace("digti") == "digti"


@pytest.mark.parametrize("word", ["better", "bring", "thing", "agree", "which", "above", "trips"])
def test_english_words_two_edits_from_a_number_word_stay_words(table, word):
    assert table.replace(f"please {word} it") == f"please {word} it"


@pytest.mark.parametrize("word", ["river", "sends", "fluff"])
def test_two_edits_reach_no_number_word_of_four_letters(table, word):
    # river: vier, sends: seis, fluff: fünf; a word of five letters or more that is not in the
    # table may still be one edit from one (fivee: five).
    assert table.replace(word) == word
    assert table.replace("fivee") == "5"


def test_a_kept_word_does_not_hold_the_typos_near_it(table):
    # "sevem" is one edit from seven and from the kept "sever".
    assert table.replace("sevem") == "7"


def test_words_inside_phrases_map(table):
    assert "7" in table.replace("номер семь")
    assert table.replace("it is a seven, please") == "it is a 7, please"
    assert table.replace("الرقم سبعة") == "الرقم 7"
    assert table.replace("जवाब: सात!") == "जवाब: 7!"


def test_chinese_and_japanese_entries_map_inside_longer_runs(table):
    assert table.replace("七です") == "7です"
    assert table.replace("ななです") == "7です"
    assert table.replace("答案是八") == "答案是8"
    assert table.replace("九九") == "99"
    # Single kana are particles too: only a whole word of one maps.
    assert table.replace("にほん") == "にほん"
    assert table.replace("に") == "2"


def test_other_words_and_digits_are_untouched(table):
    assert table.replace("hello there, 7 dogs") == "hello there, 7 dogs"


def test_the_text_preprocessor_uses_the_table_and_describes_it(tmp_path):
    shutil.copy(TABLE, tmp_path / "numbers.tsv")
    pre = make(tmp_path, number_words="numbers.tsv")
    assert text_of(pre, "Номер СЕМЬ") == "номер 7"
    assert pre.describe()["number_words"] == "numbers.tsv"
    raw = RawTextPreprocessor(
        {"tokenizer": "raw", "number_words": "numbers.tsv"},
        bundle_dir=tmp_path,
        shape=(),
        dtype="string",
    )
    assert raw("सात").item() == b"7"
    assert raw.describe()["number_words"] == "numbers.tsv"


def test_off_by_default_leaves_the_text_untouched(tmp_path):
    pre = make(tmp_path)
    assert text_of(pre, "семь seven 七") == "семь seven 七"
    assert pre.describe()["number_words"] is None
    assert "number_words" not in pre.cleaning.describe()
    raw = RawTextPreprocessor({"tokenizer": "raw"}, bundle_dir=tmp_path, shape=(), dtype="string")
    assert raw("семь").item() == "семь".encode()
    assert raw.describe()["number_words"] is None  # shown off, as for a tokenizer


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("digit\tword\n7\tseven\n", "line 1"),
        ("digit\tlanguage\tword\n7\ten\tseven\nx\ten\tone\n", "line 3: digit 'x'"),
        ("digit\tlanguage\tword\n7\ten\n", "line 2: 2 tab-separated fields"),
        ("digit\tlanguage\tword\n7\ten\tseven\n\n1\tEnglish\tone\n", "line 4: language"),
        ("digit\tlanguage\tword\n7\ten\tse ven\n", "line 2: word"),
        ("digit\tlanguage\tword\n7\ten\tseven\n# a comment\n8\tde\tSEVEN\n", "line 4"),
        ("digit\tlanguage\tword\n", "no words"),
    ],
)
def test_an_ill_formed_table_is_refused_naming_the_line(tmp_path, content, message):
    (tmp_path / "numbers.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(BundleError, match=message):
        make(tmp_path, number_words="numbers.tsv")


def test_a_missing_or_outside_table_is_refused(tmp_path):
    with pytest.raises(BundleError, match="missing"):
        make(tmp_path, number_words="numbers.tsv")
    with pytest.raises(BundleError, match="inside the bundle"):
        make(tmp_path, number_words="../numbers.tsv")


def test_the_table_is_valid_utf8_with_a_header_and_no_duplicates():
    lines = TABLE.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == "digit\tlanguage\tword"
    assert len(lines) == len(set(lines))
