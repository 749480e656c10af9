"""Enrichment: offset-keeping matching keys and Arabic clitic rules shared by every extractor.

The key of a text is ``normalize_arabic`` applied character by character, so each key position maps back to
an offset in the original string (needed because entities carry offsets into the display text). Names are
never stemmed (lenient stemmers over-stem them, NOTES §3): only proclitics are peeled, by the rules below.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from processors.normalize import normalize_arabic

# Proclitic sequences that may be glued to a name: conjunction (و ف) then preposition (ب ل ك).
PROCLITICS = frozenset({"", "و", "ف", "ب", "ل", "ك", "وب", "ول", "وك", "فب", "فل", "فك"})
# After ل the article's alef drops (ل + الحسكة → للحسكة): only these may precede a "لل" form.
LAM_PROCLITICS = frozenset({"", "و", "ف"})


def is_letter(char: str) -> bool:
    """True for letters and digits of any script (word characters of the key)."""
    return char.isalnum()


@dataclass(slots=True)
class Keyed:
    """The matching key of one field and the map from key positions back to original offsets."""

    original: str
    key: str
    offsets: list[int] | None = None  # explicit map (rare: NFKC expansions)
    shifts: list[int] | None = None  # deleted marks: key index k maps to k + bisect(shifts, k)
    marks: frozenset[int] | None = None  # original offsets of the deleted marks, when they are all of them

    def position(self, key_index: int) -> int:
        if self.offsets is not None:
            return self.offsets[key_index]
        if self.shifts:
            return key_index + bisect.bisect_right(self.shifts, key_index)
        return key_index

    def span(self, key_start: int, key_end: int) -> tuple[int, int]:
        """Original (start, end) of the key slice [key_start, key_end)."""
        shifts = self.shifts
        if self.offsets is None:
            if not shifts:
                return key_start, key_end
            marks = self.marks
            if marks is not None:  # the usual case, inlined: position() twice, then the marks after the end
                start = key_start + bisect.bisect_right(shifts, key_start)
                end = key_end + bisect.bisect_right(shifts, key_end - 1) if key_end > key_start else start
                while end in marks:
                    end += 1
                return start, end
        start = self.position(key_start)
        end = self.position(key_end - 1) + 1 if key_end > key_start else start
        # A deleted mark (shadda, tatweel) right after the last letter belongs to the word.
        while end < len(self.original) and _is_dropped(self.original[end]):
            end += 1
        return start, end


_CHAR_KEYS: dict[str, str] = {}


def char_key(char: str) -> str:
    """Key of one character: normalize_arabic's mapping, with every space kept as one space."""
    cached = _CHAR_KEYS.get(char)
    if cached is None:
        cached = " " if char.isspace() else normalize_arabic(char)
        _CHAR_KEYS[char] = cached
    return cached


def _is_dropped(char: str) -> bool:
    return not char.isspace() and char_key(char) == ""


@dataclass(frozen=True, slots=True)
class _Tables:
    full: list[str | None]  # ord → key of that character, for the whole Basic Multilingual Plane
    common: tuple[tuple[str, str], ...]  # the frequent changes, applied with str.replace (fast C scans)
    rare: re.Pattern[str]  # any other character whose key differs (then the full table is used)
    dropped: re.Pattern[str]  # characters that vanish from the key
    expanding: re.Pattern[str]  # characters whose key is longer than one character
    # The same tables as arrays over UTF-16 code units, so that a whole field is keyed by a few numpy passes:
    kinds: np.ndarray  # uint8: _COMMON_CHANGE | _RARE | _EXPANDS | _SURROGATE | _DROPS bits of each code unit
    mapped: np.ndarray  # uint16: the one-character key of each code unit (the unit itself when unchanged)


_COMMON = (
    "أإآٱىةیک\t\n\r\xa0"
    + "".join(chr(c) for c in range(0x064B, 0x0653))
    + "\u0670\u0640"
    + "".join(chr(0x0660 + i) for i in range(10))
)


_COMMON_CHANGE, _RARE, _EXPANDS, _SURROGATE, _DROPS = 1, 2, 4, 8, 16


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Key of every BMP character, computed once per process with normalize_arabic (~0.1 s)."""
    full: list[str | None] = []
    changed: dict[str, str] = {}
    for code in range(0x10000):
        char = chr(code)
        value = char if 0xD800 <= code <= 0xDFFF else char_key(char)
        full.append(value)
        if value != char:
            changed[char] = value

    def pattern(chars: list[str]) -> re.Pattern[str]:
        return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]" if chars else "(?!)")

    common = tuple((c, changed[c]) for c in _COMMON if c in changed)
    rare = [c for c in changed if c not in _COMMON] + ["\U00010000-\U0010ffff"]
    kinds = np.zeros(0x10000, dtype=np.uint8)
    mapped = np.arange(0x10000, dtype=np.uint16)
    kinds[0xD800:0xE000] = _SURROGATE  # characters beyond the BMP (and lone surrogates): the str code path
    for char, value in changed.items():
        code = ord(char)
        kinds[code] = _COMMON_CHANGE if char in _COMMON and len(value) <= 1 else _RARE
        if len(value) > 1:
            kinds[code] |= _EXPANDS
        elif value and ord(value) > 0xFFFF:
            kinds[code] |= _SURROGATE  # a key beyond the BMP (CJK compatibility ideographs): the str code path
        elif value:
            mapped[code] = ord(value)
        else:
            kinds[code] |= _DROPS
    return _Tables(
        full=full,
        common=common,
        rare=re.compile("[" + "".join(re.escape(c) for c in rare[:-1]) + rare[-1] + "]"),
        dropped=pattern([c for c, v in changed.items() if not v]),
        expanding=pattern([c for c, v in changed.items() if len(v) > 1]),
        kinds=kinds,
        mapped=mapped,
    )


def keyed(text: str) -> Keyed:
    """Build the key of ``text``; characters that vanish (tashkeel, tatweel) are tracked with a bisect table.

    Text within the BMP is mapped through the numpy tables (a few passes in C over the code units); other text
    takes the str code path below, which gives the same key.
    """
    tables = _tables()
    units = np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    each = tables.kinds.take(units)
    kinds = int(np.bitwise_or.reduce(each)) if len(units) else 0
    if not kinds & _SURROGATE:
        if not kinds & (_COMMON_CHANGE | _RARE):
            return Keyed(text, text)
        if kinds & _RARE and (kinds & _EXPANDS or not unicodedata.is_normalized("NFKC", text)):
            return _keyed_slowly(text)
        drops = (each & _DROPS).astype(bool)
        mapped = tables.mapped.take(units)
        if not drops.any():
            return Keyed(text, mapped.tobytes().decode("utf-16-le"))
        positions = np.flatnonzero(drops)
        key = mapped[~drops].tobytes().decode("utf-16-le")
        # Key index k sits at original index k + (marks dropped before it): shifts[j] = positions[j] - j.
        shifts = (positions - np.arange(len(positions))).tolist()
        return Keyed(text, key, shifts=shifts, marks=frozenset(positions.tolist()))
    return _keyed_with_str(text, tables)


def _keyed_with_str(text: str, tables: _Tables) -> Keyed:
    if tables.rare.search(text):
        if tables.expanding.search(text) or not unicodedata.is_normalized("NFKC", text):
            return _keyed_slowly(text)
        key = text.translate(tables.full)
    else:
        key = text
        for char, value in tables.common:
            if char in key:
                key = key.replace(char, value)
    if len(key) == len(text):
        return Keyed(text, key)
    positions = [m.start() for m in tables.dropped.finditer(text)]
    # Key index k sits at original index k + (marks dropped before it): shifts[j] = positions[j] - j.
    return Keyed(text, key, shifts=[p - j for j, p in enumerate(positions)])


def _keyed_slowly(text: str) -> Keyed:
    """Character by character, for text with NFKC expansions (ligatures) or characters beyond the BMP."""
    parts: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        mapped = char_key(char)
        parts.append(mapped)
        offsets.extend([index] * len(mapped))
    return Keyed(text, "".join(parts), offsets)


def word_start(key: str, pos: int) -> int:
    """Start of the word that contains key position ``pos``."""
    while pos > 0 and is_letter(key[pos - 1]):
        pos -= 1
    return pos


def word_end(key: str, pos: int) -> int:
    """End of the word that contains key position ``pos`` (exclusive)."""
    while pos < len(key) and is_letter(key[pos]):
        pos += 1
    return pos


def clitic_ok(key: str, start: int, end: int, lam_form: bool = False) -> bool:
    """A match [start, end) is a whole word, or a word with only allowed proclitics before it."""
    if end < len(key) and is_letter(key[end]):
        return False
    prefix = key[word_start(key, start) : start]
    return prefix in (LAM_PROCLITICS if lam_form else PROCLITICS)


def lam_form(name_key: str) -> str | None:
    """The form a name with the article takes after ل (الحسكه → للحسكه), or None."""
    if name_key.startswith("ال") and len(name_key) > 3:
        return "لل" + name_key[2:]
    return None


@functools.lru_cache(maxsize=1 << 14)  # words repeat: most calls are one lookup (bounded: a few MB)
def strip_clitics(word_key: str) -> str:
    """Peel proclitics and the article from one word key (for cue-word lookups, never for names)."""
    for prefix in ("وال", "بال", "فال", "كال", "لل", "ال"):
        if word_key.startswith(prefix) and len(word_key) - len(prefix) >= 2:
            return word_key[len(prefix) :]
    if word_key[:1] in "وفبلك" and len(word_key) > 3:
        return word_key[1:]
    return word_key
