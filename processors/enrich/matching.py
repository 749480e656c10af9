"""Enrichment: phrase matching with Aho-Corasick (pyahocorasick), never one regex per name.

Every vocabulary (places, known names, cue words, event triggers, casualty words, date words) is a
``PhraseIndex`` over one shared ``Lexicon``: a single automaton, so each field is scanned once for all of them
(a scan of 3 KB costs ~0.2 ms whatever the vocabulary size; eight separate scans cost more than the rest).
Phrases are stored under their ``normalize_arabic`` key. A match counts when it is a whole word or carries only
allowed proclitics (و ف ب ل ك and pairs of them); names with the article also match their لل form. A phrase
ending in ``*`` matches any word ending (verb stems). Overlaps are resolved longest first, per vocabulary.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

import ahocorasick

from processors.enrich.text import LAM_PROCLITICS, PROCLITICS, lam_form, word_end
from processors.normalize import normalize_arabic

T = TypeVar("T")
_TOKEN = re.compile(r"\w+")
_SCAN_CACHE = 8


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    start: int  # key offsets of the phrase (proclitics excluded)
    end: int
    phrase: str  # the phrase key as listed (canonical, with its article)
    values: tuple[T, ...]


class _Entry(NamedTuple):
    """A plain tuple, so that the garbage collector does not track the tens of thousands of them."""

    vocabulary: int
    phrase: str
    open_end: bool
    length: int
    lam: bool


Raw = tuple[int, int, _Entry]


class Lexicon:
    """One automaton for many vocabularies; ``scan`` finds every vocabulary's candidates in one pass."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[_Entry, ...]] = {}
        self._automaton = ahocorasick.Automaton()
        self._dirty = False
        self._vocabularies = 0
        self._cache: dict[str, dict[int, list[Raw]]] = {}

    def vocabulary(self) -> int:
        self._vocabularies += 1
        return self._vocabularies - 1

    def put(self, key: str, entry: _Entry) -> None:
        entries = self._entries.get(key, ())
        if all(e.vocabulary != entry.vocabulary for e in entries):  # the first spelling listed wins
            self._entries[key] = (*entries, entry)
            self._dirty = True

    def _build(self) -> None:
        self._automaton = ahocorasick.Automaton()
        for key, entries in self._entries.items():
            self._automaton.add_word(key, entries)
        if self._entries:
            self._automaton.make_automaton()
        self._dirty = False
        self._cache.clear()

    def scan(self, key: str) -> dict[int, list[Raw]]:
        """Candidates per vocabulary that pass the word-boundary and proclitic rules (cached per key)."""
        if self._dirty:
            self._build()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found: dict[int, list[Raw]] = {}
        if self._entries and key:
            starts, size, bisect_right = token_starts(key), len(key), bisect.bisect_right
            for last, entries in self._automaton.iter(key):
                end = last + 1
                if end < size and key[end].isalnum() and not any(e.open_end for e in entries):
                    continue  # the common case: a name inside a longer word
                for entry in entries:
                    start, stop = end - entry.length, end
                    if entry.open_end:
                        stop = word_end(key, end)
                    elif end < size and key[end].isalnum():
                        continue
                    word = starts[bisect_right(starts, start) - 1]
                    if word < start and key[word:start] not in (LAM_PROCLITICS if entry.lam else PROCLITICS):
                        continue
                    found.setdefault(entry.vocabulary, []).append((start, stop, entry))
        if len(self._cache) >= _SCAN_CACHE:
            self._cache.clear()
        self._cache[key] = found
        return found


class PhraseIndex(Generic[T]):
    """Many phrases, each with values; ``find`` returns non-overlapping matches in a key string."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self._lexicon = lexicon or Lexicon()
        self._vocabulary = self._lexicon.vocabulary()
        self._frozen: dict[str, tuple[T, ...]] = {}

    def add(self, phrase: str, value: T) -> None:
        open_end = phrase.endswith("*")
        key = normalize_arabic(phrase.rstrip("*"))
        if not key:
            return
        self._frozen[key] = (*self._frozen.get(key, ()), value)
        self._lexicon.put(key, _Entry(self._vocabulary, key, open_end, len(key), False))
        lam = lam_form(key)
        if lam and not open_end:
            self._lexicon.put(lam, _Entry(self._vocabulary, key, False, len(key), True))

    def add_all(self, phrases: Iterable[str], value: T) -> None:
        for phrase in phrases:
            self.add(phrase, value)

    def build(self) -> None:
        """Nothing to do: the shared automaton is built on the first scan after any addition."""

    def __contains__(self, phrase: str) -> bool:
        return normalize_arabic(phrase) in self._frozen

    def find(self, key: str) -> list[Match[T]]:
        raw = self._lexicon.scan(key).get(self._vocabulary)
        if not raw:
            return []
        frozen = self._frozen
        return [Match(s, e, entry.phrase, frozen[entry.phrase]) for s, e, entry in _longest(raw)]


def longest_first(matches: list[Match[T]]) -> list[Match[T]]:
    """Keep the longest of overlapping matches (earliest on ties), returned in text order."""
    if len(matches) < 2:
        return matches
    taken = bytearray(max(m.end for m in matches))
    chosen: list[Match[T]] = []
    for match in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        if taken.find(1, match.start, match.end) < 0:
            chosen.append(match)
            taken[match.start : match.end] = b"\x01" * (match.end - match.start)
    return sorted(chosen, key=lambda m: m.start)


def _longest(found: list[Raw]) -> list[Raw]:
    """longest_first over raw (start, end, entry) triples."""
    if len(found) < 2:
        return found
    taken = bytearray(max(end for _, end, _ in found))
    chosen = []
    for item in sorted(found, key=lambda m: (m[0] - m[1], m[0])):
        if taken.find(1, item[0], item[1]) < 0:
            chosen.append(item)
            taken[item[0] : item[1]] = b"\x01" * (item[1] - item[0])
    chosen.sort(key=lambda m: m[0])
    return chosen


@dataclass(frozen=True, slots=True)
class Tokens:
    spans: list[tuple[int, int]]
    starts: list[int]
    words: list[str]


@functools.lru_cache(maxsize=16)
def tokenize(key: str) -> Tokens:
    """Words of a key with their spans (cached: every extractor tokenises the same field keys)."""
    words = _TOKEN.findall(key)
    spans = [m.span() for m in _TOKEN.finditer(key)]
    return Tokens(spans, [start for start, _ in spans], words)


def token_starts(key: str) -> list[int]:
    return tokenize(key).starts


def tokens(key: str) -> list[tuple[int, int]]:
    """Word spans of a key."""
    return tokenize(key).spans
