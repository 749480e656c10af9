"""Index analysis: the Arabic analyzer of the embedded store (normalise, tokenise, light-stem), at index and query.

Written here because SQLite's FTS5 tokenizers cannot be extended from Python's ``sqlite3``: the store indexes
the analysed token stream instead. The stemmer mirrors Lucene's ``ArabicStemmer`` (the ``arabic`` stemmer of
Elasticsearch) rule for rule, so that both backends match the same words; names listed as stem exclusions in
the Elasticsearch template's ``stemmer_override`` rules (names the stemmer mangles, with their clitic forms) map
to the same stem in both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources

from processors.normalize import normalize_arabic

# Lucene ArabicStemmer, after ArabicNormalizer (ة → ه, ى → ي): one prefix, then every suffix in turn.
PREFIXES = ("ال", "وال", "بال", "كال", "فال", "لل", "و")
SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
_ARABIC_LETTERS = re.compile(r"[\u0621-\u064A]")
# A word in display text: letters, digits, and the marks/joiners normalisation removes from inside words.
DISPLAY_WORD = re.compile(r"[\w\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200c\u200d]+")
_WORD = re.compile(r"\w+")
_CACHE_LIMIT = 400_000


@cache
def stem_overrides() -> dict[str, str]:
    """Token → stem from the template's ``stemmer_override`` rules ("a, b => c")."""
    template = json.loads(resources.files("pipeline.sinks").joinpath("es_template.json").read_text("utf-8"))
    rules = template["template"]["settings"]["analysis"]["filter"]["akhbar_stem_override"]["rules"]
    overrides = {}
    for rule in rules:
        words, target = rule.split("=>")
        for word in words.split(","):
            overrides[normalize_arabic(word)] = normalize_arabic(target)
    return overrides


def _starts_with(word: str, prefix: str) -> bool:
    if len(prefix) == 1 and len(word) < 4:
        return False
    return len(word) >= len(prefix) + 2 and word.startswith(prefix)


def _ends_with(word: str, suffix: str) -> bool:
    return len(word) >= len(suffix) + 2 and word.endswith(suffix)


def strip_prefix(word: str) -> str:
    for prefix in PREFIXES:
        if _starts_with(word, prefix):
            return word[len(prefix) :]
    return word


def stem(word: str) -> str:
    """Light stem of one normalised token (non-Arabic tokens come back unchanged)."""
    override = stem_overrides().get(word)
    if override is not None:
        return override
    if not _ARABIC_LETTERS.search(word):
        return word
    word = strip_prefix(word)
    for suffix in SUFFIXES:
        if _ends_with(word, suffix):
            word = word[: -len(suffix)]
    return word


class Analyzer:
    """Turns text into the space-joined stems FTS5 indexes; keeps a bounded cache of stems (hot path)."""

    def __init__(self) -> None:
        self._stems: dict[str, str] = {}

    def stem_token(self, token: str) -> str:
        stems = self._stems
        found = stems.get(token)
        if found is None:
            if len(stems) > _CACHE_LIMIT:
                stems.clear()
            found = stems[token] = stem(token)
        return found

    def tokens(self, text: str) -> list[str]:
        """Stems of ``text`` in order (positions kept: stop words are not removed, so phrases line up)."""
        stems = self._stems
        get = stems.get
        out = []
        for token in _WORD.findall(normalize_arabic(text)):
            found = get(token)
            out.append(found if found is not None else self.stem_token(token))
        return out

    def analyse(self, text: str) -> str:
        return " ".join(self.tokens(text))

    def prefix_key(self, text: str) -> str:
        """A prefix query's key: normalised, article/conjunction prefix removed, never suffix-stripped."""
        tokens = _WORD.findall(normalize_arabic(text))
        return strip_prefix(tokens[0]) if tokens else ""


def display_words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, stem) for every word of display text, for highlighting the original characters."""
    for match in DISPLAY_WORD.finditer(text):
        key = normalize_arabic(match.group())
        words = _WORD.findall(key)
        if words:
            yield match.start(), match.end(), stem(words[0])
