"""Normalisation: the one Arabic normalisation for search and matching keys (never for display text).

Written here rather than taken from a library: pyarabic and camel-tools each cover part of it (and camel-tools
needs data downloads); the rules are short, and search, dedup and the gazetteers must agree on them exactly.
Rules: NFKC; drop tashkeel (U+064B–U+065F, U+0670), tatweel, bidi and zero-width marks; unify أ إ آ ٱ → ا,
ى → ي, ة → ه, Persian ی → ي and ک → ك; Arabic-Indic and Persian digits → ASCII; fold whitespace.
"""

from __future__ import annotations

import functools
import unicodedata

_DIACRITICS = "".join(chr(c) for c in range(0x064B, 0x0660)) + "\u0670"
_INVISIBLE = "\u0640\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_LETTERS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ی": "ي", "ک": "ك", "ۀ": "ه", "ە": "ه"}
_DIGITS = {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}

_MAPPING = {**dict.fromkeys(_DIACRITICS + _INVISIBLE, ""), **_LETTERS, **_DIGITS}
_TABLE = str.maketrans(_MAPPING)
# Every key is one character and no replacement is a key, so applying them one by one equals one translate().
# On long text, str.replace with an `in` test is ~20x faster than str.translate with a dict (0.02 vs 0.36 ms
# per 3 KB: translate looks every character up in a dict); on short strings (lines, names) the 69 scans cost
# more than translate. Both give the same result; the cut-over was measured.
_REPLACEMENTS = tuple(_MAPPING.items())
_SHORT = 120
# One article's whole text is keyed three times (its text_hash, its dedup shingles, its content words for story
# clustering): the last few are remembered. Only long texts, so that lines and names do not evict them.
_REMEMBERED = 1000


def normalize_arabic(text: str) -> str:
    """Return the search/matching key of ``text`` (lowercased for the Latin letters it may hold)."""
    if len(text) >= _REMEMBERED:
        return _normalize_long(text)
    return _normalize(text)


@functools.lru_cache(maxsize=64)
def _normalize_long(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) < _SHORT:
        folded = folded.translate(_TABLE)
    else:
        for char, replacement in _REPLACEMENTS:
            if char in folded:
                folded = folded.replace(char, replacement)
    return _fold_spaces(folded).lower()


def _fold_spaces(text: str) -> str:
    """``" ".join(text.split())``: runs of whitespace (str.isspace) to one space, ends dropped.

    Extracted text is lines of single-spaced words, which this returns with three C scans instead of a list of
    every word (a third of normalising an article). Every whitespace character but the space is unprintable
    (checked in the tests over all of Unicode), so a printable text without double or edge spaces is folded.
    """
    flat = text.replace("\n", " ")
    if flat.isprintable() and "  " not in flat and flat[:1] != " " and flat[-1:] != " ":
        return flat
    return " ".join(text.split())


def strip_invisible(text: str) -> str:
    """Remove bidi controls and zero-width characters only (safe on display text)."""
    return text.translate(str.maketrans(dict.fromkeys(_INVISIBLE.replace("\u0640", ""), None)))
