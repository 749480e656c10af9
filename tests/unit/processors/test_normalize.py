"""Arabic normalisation: the rules of issue 4, and equality with a plain reference implementation."""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from processors.normalize import _fold_spaces, normalize_arabic, strip_invisible

_REFERENCE_DELETE = [chr(c) for c in range(0x064B, 0x0660)] + ["\u0670", "\u0640"]
_REFERENCE_DELETE += list("\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e")
_REFERENCE_DELETE += list("\u2066\u2067\u2068\u2069\ufeff")
_REFERENCE_MAP = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ی": "ي", "ک": "ك"}
_REFERENCE_MAP |= {"ۀ": "ه", "ە": "ه"}
_REFERENCE_MAP |= {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}
_REFERENCE_TABLE = str.maketrans({**dict.fromkeys(_REFERENCE_DELETE, None), **_REFERENCE_MAP})


def reference_normalize(text: str) -> str:
    """The rules written the slow, obvious way (str.translate, regex whitespace)."""
    folded = unicodedata.normalize("NFKC", text).translate(_REFERENCE_TABLE)
    return re.sub(r"\s+", " ", folded).strip().lower()


def test_hamza_forms_and_final_letters_unify() -> None:
    assert normalize_arabic("أحمد إبراهيم آمنة ٱلله") == "احمد ابراهيم امنه الله"
    assert normalize_arabic("مستشفى الشفاء") == normalize_arabic("مستشفي الشفاء")
    assert normalize_arabic("غزة") == "غزه"


def test_tashkeel_tatweel_and_dagger_alef_are_removed() -> None:
    assert normalize_arabic("مُحَمَّدٌ") == "محمد"
    assert normalize_arabic("الرحمـــــن") == "الرحمن"
    assert normalize_arabic("هٰذا") == "هذا"


def test_persian_letters_and_digits() -> None:
    assert normalize_arabic("کتاب ی") == "كتاب ي"
    assert normalize_arabic("٢٠٢٤ ۱۴۰۳") == "2024 1403"


def test_bidi_and_zero_width_marks_vanish_and_spaces_fold() -> None:
    assert normalize_arabic("\u200fغزة\u200e \u200b  \n\tرفح\ufeff") == "غزه رفح"


def test_nfkc_folds_presentation_forms_and_latin_is_lowercased() -> None:
    assert normalize_arabic("\ufefb") == "لا"  # lam-alef ligature
    assert normalize_arabic("BBC عربي") == "bbc عربي"


def test_strip_invisible_keeps_letters_and_tatweel() -> None:
    assert strip_invisible("\u200fغـزة\u200e") == "غـزة"


def test_idempotent_on_sample(sample_text: str) -> None:
    once = normalize_arabic(sample_text)
    assert normalize_arabic(once) == once
    assert "أ" not in once and "ة" not in once


@given(st.text())
def test_matches_reference_implementation(text: str) -> None:
    assert normalize_arabic(text) == reference_normalize(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x0600, max_codepoint=0x06FF) | st.sampled_from(" \n\u200f")))
def test_matches_reference_on_arabic_block(text: str) -> None:
    assert normalize_arabic(text) == reference_normalize(text)


def test_every_whitespace_but_the_space_is_unprintable() -> None:
    """What the space folding's shortcut relies on, over all of Unicode (this Python's tables)."""
    odd = [hex(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c).isprintable() and c != 0x20]
    assert odd == []


@given(st.lists(st.text(alphabet="اب xZ\n\t\u00a0\u2028", max_size=8), max_size=12))
def test_space_folding_equals_split_and_join(words: list[str]) -> None:
    for joiner in (" ", "\n", "  ", " \n"):
        text = joiner.join(words)
        assert _fold_spaces(text) == " ".join(text.split())


def test_long_texts_are_keyed_like_short_ones() -> None:
    """Long texts take the remembered path (str.replace scans, an LRU): the same key as line by line."""
    lines = ["إِنَّ الأمـمَ المتّحدة ٢٠٢٤", "مدرسة كبيرة", "Beirut  IS", "ی ک ۀ"] * 60
    text = "\n".join(lines)
    assert len(text) >= 1000
    expected = " ".join(normalize_arabic(line) for line in lines)
    assert normalize_arabic(text) == expected
    assert normalize_arabic(text) == expected  # remembered
