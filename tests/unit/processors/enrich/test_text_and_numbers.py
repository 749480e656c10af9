"""Matching keys that keep offsets, clitic rules, phrase matching and Arabic number words."""

from __future__ import annotations

import pytest

from processors.enrich import matching
from processors.enrich.matching import PhraseIndex
from processors.enrich.numbers import parse_digits, parse_number_words
from processors.enrich.text import keyed, lam_form, strip_clitics
from processors.normalize import normalize_arabic


@pytest.mark.parametrize(
    "text",
    ["شنّت الطائرات الحربيّة غاراتٍ", "نص ـــ مع تطويل", "ﻻ إله إلا", "ABC أحمد ١٢٣", "x\U0001d400y مُسيّرة", ""],
)
def test_key_is_normalize_arabic_and_maps_back(text):
    k = keyed(text)
    assert " ".join(k.key.split()) == normalize_arabic(text)
    for index in range(len(k.key)):
        start, end = k.span(index, index + 1)
        assert 0 <= start < end <= len(text)


def test_span_of_a_word_covers_its_marks():
    text = "قصفت مسيّرةٌ الموقع"
    k = keyed(text)
    start = k.key.index("مسيره")
    assert text[slice(*k.span(start, start + 5))] == "مسيّرةٌ"


@pytest.mark.parametrize(
    "text",
    [
        "قصف مدفعي على ريف_دمشق، وسقوط ٣ قتلى و12 جريحاً (حصيلة أولية).",
        "  «الحسكة»  -  2024/11/13\tx_y ² ① ABC9 ",
        "_",
        "",
        "كلمة",
    ],
)
def test_short_keys_tokenise_as_long_ones(monkeypatch, text):
    """Titles take the regex path: the same words, offsets, gaps and character flags as the numpy path."""
    key = normalize_arabic(text)
    assert len(key) < matching._SHORT_KEY
    short = matching._tokenize_with_re(key)
    monkeypatch.setattr(matching, "_SHORT_KEY", 0)
    matching.tokenize.cache_clear()
    long = matching.tokenize(key)
    matching.tokenize.cache_clear()
    for name in ("words", "starts", "ends", "single", "alnum", "at_start", "underscore"):
        assert getattr(short, name) == getattr(long, name), name
    assert short.digits() == long.digits()


def test_lam_form_and_clitic_peeling():
    assert lam_form("الحسكه") == "للحسكه"
    assert lam_form("دمشق") is None
    assert strip_clitics("بالحسكه") == "حسكه"


def test_phrase_index_respects_word_boundaries_and_proclitics():
    index: PhraseIndex[str] = PhraseIndex()
    index.add_all(["دمشق", "الحسكة", "قصف*"], "x")
    key = normalize_arabic("ودمشق والحسكة للحسكة فالدمشقي قصفت وقصفها مدمشق")
    found = [key[start:end] for start, end, _, _ in index.find(key)]
    assert found == ["دمشق", "الحسكه", "للحسكه", "قصفت", "قصفها"]


def test_longest_match_wins():
    index: PhraseIndex[str] = PhraseIndex()
    index.add_all(["دير الزور", "الزور"], "x")
    key = normalize_arabic("في دير الزور")
    assert [phrase for _, _, phrase, _ in index.find(key)] == ["دير الزور"]


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("خمسة عشر", 15),
        ("أحد عشر", 11),
        ("إحدى عشرة", 11),
        ("اثنا عشر", 12),
        ("ثلاثة", 3),
        ("خمسة وعشرين", 25),
        ("مئة وخمسين", 150),
        ("ثلاث مئة", 300),
        ("ثلاثة آلاف", 3000),
    ],
)
def test_number_words(words, value):
    parsed = parse_number_words(normalize_arabic(words).split())
    assert parsed is not None and parsed[0] == value


def test_vague_amounts_are_not_numbers():
    for vague in ("العشرات", "عشرات", "مئات", "آلاف"):
        assert parse_number_words([normalize_arabic(vague)]) is None


def test_digits():
    assert parse_digits("١٢٣") == 123
    assert parse_digits("و40") == 40
    assert parse_digits("1,200") == 1200
    assert parse_digits("قتيلا") is None
