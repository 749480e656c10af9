"""Enrichment: phrase matching with one Aho-Corasick automaton per vocabulary (never one regex per name).

Phrases are stored under their ``normalize_arabic`` key. A match counts when it is a whole word or carries only
allowed proclitics (و ف ب ل ك and pairs of them); names with the article also match their لل form. A phrase
ending in ``*`` matches any word ending (verb stems). Overlaps are resolved longest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

from processors.enrich.text import clitic_ok, lam_form, word_end
from processors.normalize import normalize_arabic

T = TypeVar("T")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    start: int  # key offsets of the phrase (proclitics excluded)
    end: int
    phrase: str  # the phrase key as listed (canonical, with its article)
    values: tuple[T, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    phrase: str
    lam: bool
    open_end: bool


class PhraseIndex(Generic[T]):
    """Many phrases, each with values; ``find`` returns non-overlapping matches in a key string."""

    def __init__(self) -> None:
        self._automaton = ahocorasick.Automaton()
        self._values: dict[str, list[T]] = {}
        self._built = False

    def add(self, phrase: str, value: T) -> None:
        open_end = phrase.endswith("*")
        key = normalize_arabic(phrase.rstrip("*"))
        if not key:
            return
        self._values.setdefault(key, []).append(value)
        self._put(key, _Entry(key, False, open_end))
        lam = lam_form(key)
        if lam and not open_end:
            self._put(lam, _Entry(key, True, False))

    def _put(self, key: str, entry: _Entry) -> None:
        if key not in self._automaton:  # the first spelling listed wins
            self._automaton.add_word(key, entry)

    def add_all(self, phrases: Iterable[str], value: T) -> None:
        for phrase in phrases:
            self.add(phrase, value)

    def build(self) -> None:
        if len(self._automaton):
            self._automaton.make_automaton()
        self._built = True

    def __contains__(self, phrase: str) -> bool:
        return normalize_arabic(phrase) in self._values

    def get(self, key: str) -> tuple[T, ...]:
        return tuple(self._values.get(key, ()))

    def find(self, key: str) -> list[Match[T]]:
        if not self._built or not len(self._automaton) or not key:
            return []
        found: list[Match[T]] = []
        for last, entry in self._automaton.iter(key):
            start, end = last + 1 - len(entry.phrase), last + 1
            if entry.open_end:
                end = word_end(key, end)
            if clitic_ok(key, start, end, entry.lam):
                found.append(Match(start, end, entry.phrase, tuple(self._values[entry.phrase])))
        return longest_first(found)


def longest_first(matches: list[Match[T]]) -> list[Match[T]]:
    """Keep the longest of overlapping matches (earliest on ties), returned in text order."""
    chosen: list[Match[T]] = []
    taken: list[tuple[int, int]] = []
    for match in sorted(matches, key=lambda m: (m.start - m.end, m.start)):
        if all(match.end <= s or match.start >= e for s, e in taken):
            chosen.append(match)
            taken.append((match.start, match.end))
    return sorted(chosen, key=lambda m: m.start)


def tokens(key: str) -> list[tuple[int, int]]:
    """Word spans of a key."""
    return [m.span() for m in _TOKEN.finditer(key)]
