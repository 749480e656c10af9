"""Enrichment: offset-keeping matching keys and Arabic clitic rules shared by every extractor.

The key of a text is ``normalize_arabic`` applied character by character, so each key position maps back to
an offset in the original string (needed because entities carry offsets into the display text). Names are
never stemmed (lenient stemmers over-stem them, NOTES §3): only proclitics are peeled, by the rules below.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

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
    offsets: list[int] | None  # None when key and original align one to one

    def span(self, key_start: int, key_end: int) -> tuple[int, int]:
        """Original (start, end) of the key slice [key_start, key_end)."""
        if self.offsets is None:
            return key_start, key_end
        start = self.offsets[key_start]
        end = self.offsets[key_end - 1] + 1 if key_end > key_start else start
        # A deleted mark (shadda, tatweel) right after the last letter belongs to the word.
        while end < len(self.original) and self._is_dropped(self.original[end]):
            end += 1
        return start, end

    @staticmethod
    def _is_dropped(char: str) -> bool:
        return not char.isspace() and char_key(char) == ""


_CHAR_KEYS: dict[str, str] = {}


def char_key(char: str) -> str:
    """Key of one character: normalize_arabic's mapping, with every space kept as one space."""
    cached = _CHAR_KEYS.get(char)
    if cached is None:
        cached = " " if char.isspace() else normalize_arabic(char)
        _CHAR_KEYS[char] = cached
    return cached


def keyed(text: str) -> Keyed:
    """Build the key of ``text``; fast path when no character changes length."""
    table = {ord(ch): char_key(ch) for ch in set(text)}
    if all(len(value) == 1 for value in table.values()) and unicodedata.is_normalized("NFKC", text):
        return Keyed(text, text.translate(table), None)
    parts: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        mapped = table[ord(char)]
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


def strip_clitics(word_key: str) -> str:
    """Peel proclitics and the article from one word key (for cue-word lookups, never for names)."""
    for prefix in ("وال", "بال", "فال", "كال", "لل", "ال"):
        if word_key.startswith(prefix) and len(word_key) - len(prefix) >= 2:
            return word_key[len(prefix) :]
    if word_key[:1] in "وفبلك" and len(word_key) > 3:
        return word_key[1:]
    return word_key
