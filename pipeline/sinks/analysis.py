"""Index analysis: the Arabic analysis of the embedded store (normalise, tokenise, light-stem by expansion).

Written here because SQLite's FTS5 tokenizers cannot be extended from Python's ``sqlite3``. The store indexes
normalised words (FTS5 tokenizes them in C, which keeps indexing fast) and stems at query time by expansion: a
query word becomes every word form whose stem equals its stem. The stemmer mirrors Lucene's ``ArabicStemmer``
(the ``arabic`` stemmer of Elasticsearch) rule for rule, and the template's ``stemmer_override`` rules (names
the stemmer mangles, with their clitic forms), so both backends match the same words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib import resources
from itertools import combinations

from processors.normalize import normalize_arabic

# Lucene ArabicStemmer, after ArabicNormalizer (ة → ه, ى → ي): one prefix, then every suffix in turn.
PREFIXES = ("ال", "وال", "بال", "كال", "فال", "لل", "و")
SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
_ARABIC_LETTERS = re.compile(r"[\u0621-\u064A]")
# A word in display text: letters, digits, and the marks/joiners normalisation removes from inside words.
DISPLAY_WORD = re.compile(r"[\w\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200c\u200d]+")
_WORD = re.compile(r"\w+")


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


def _suffix_chains(limit: int = 2) -> list[str]:
    """Endings the stemmer strips (up to two stacked suffixes; list order, so the outermost comes first)."""
    chains = {""}
    for size in range(1, limit + 1):
        for combo in combinations(SUFFIXES, size):
            chains.add("".join(reversed(combo)))
    return sorted(chains, key=len)


@cache
def _chains() -> tuple[str, ...]:
    return tuple(_suffix_chains())


@lru_cache(maxsize=4096)
def variants(word_stem: str) -> tuple[str, ...]:
    """All word forms whose stem is ``word_stem`` (what a stemmed query for it must match), shortest first."""
    forms = {target_word for target_word, target in stem_overrides().items() if target == word_stem}
    for prefix in ("", *PREFIXES):
        for chain in _chains():
            word = prefix + word_stem + chain
            if word not in forms and stem(word) == word_stem:
                forms.add(word)
    return tuple(sorted(forms, key=lambda w: (len(w), w)))


class Analyzer:
    """Query-side analysis: normalised words and prefix keys (index side is FTS5's own tokenizer)."""

    def words(self, text: str) -> list[str]:
        """Normalised words of ``text`` (what the store's FTS5 table holds, unstemmed)."""
        return _WORD.findall(normalize_arabic(text))

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
