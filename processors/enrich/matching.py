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
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar

import ahocorasick
import numpy as np

from processors.enrich.text import LAM_PROCLITICS, PROCLITICS, lam_form, word_end, word_start
from processors.normalize import normalize_arabic

T = TypeVar("T")
Item = TypeVar("Item", bound=tuple[Any, ...])
_TOKEN = re.compile(r"\w+")
_SCAN_CACHE = 8


# A match: (start, end, phrase, values) — key offsets of the phrase (proclitics excluded), the phrase key as
# listed (canonical, with its article) and the values it was added with. A plain tuple, not a NamedTuple:
# CPython builds a tuple in ~0.1 µs and an instance of a tuple subclass in ~0.5-1 µs, and an article makes
# hundreds of matches.
Match: TypeAlias = tuple[int, int, str, tuple[T, ...]]


class _Entry(NamedTuple):
    """A plain tuple, so that the garbage collector does not track the tens of thousands of them."""

    vocabulary: int
    phrase: str
    open_end: bool
    length: int
    lam: bool


# What the automaton holds for each of an entry's keys once built: (vocabulary, length, open_end, lam, phrase,
# values), a plain tuple that the scan unpacks at once.
_Resolved: TypeAlias = tuple[int, int, bool, bool, str, tuple]


class Lexicon:
    """One automaton for many vocabularies; ``scan`` finds every vocabulary's candidates in one pass."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[_Entry, ...]] = {}
        self._automaton = ahocorasick.Automaton()
        self._dirty = False
        self._values: list[dict[str, tuple]] = []  # per vocabulary: phrase key → values
        self._cache: dict[str, list[list[Match]]] = {}

    def vocabulary(self, values: dict[str, tuple] | None = None) -> int:
        """A new vocabulary; ``values`` (phrase key → values, filled later) is read when the automaton is built."""
        self._values.append(values if values is not None else {})
        return len(self._values) - 1

    def touch(self) -> None:
        """A vocabulary's values changed: the automaton holds them, so rebuild it on the next scan."""
        self._dirty = True

    def put(self, key: str, entry: _Entry) -> None:
        entries = self._entries.get(key, ())
        if all(e.vocabulary != entry.vocabulary for e in entries):  # the first spelling listed wins
            self._entries[key] = (*entries, entry)
            self._dirty = True

    def _build(self) -> None:
        self._automaton = ahocorasick.Automaton()
        for key, entries in self._entries.items():
            resolved = tuple(
                (e.vocabulary, e.length, e.open_end, e.lam, e.phrase, self._values[e.vocabulary].get(e.phrase, ()))
                for e in entries
            )
            # (entries, whether one is a verb stem): a match inside a longer word is dropped at once otherwise.
            self._automaton.add_word(key, (resolved, any(e.open_end for e in entries)))
        if self._entries:
            self._automaton.make_automaton()
        self._dirty = False
        self._cache.clear()

    def scan(self, key: str) -> list[list[Match]]:
        """Candidates per vocabulary that pass the word-boundary and proclitic rules (cached per key)."""
        if self._dirty:
            self._build()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found: list[list[Match]] = [[] for _ in self._values]
        if self._entries and key:
            words = tokenize(key)
            starts, at_start, alnum, bisect_right = words.starts, words.at_start, words.alnum, bisect.bisect_right
            for last, (entries, open_end) in self._automaton.iter(key):
                end = last + 1
                inside = alnum[end]  # key[end].isalnum(), false at the end of the key
                if inside and not open_end:
                    continue  # the common case: a name inside a longer word
                for vocabulary, length, stem, lam, phrase, values in entries:
                    if stem:
                        stop = words.word_end(end)
                    elif inside:
                        continue
                    else:
                        stop = end
                    start = end - length
                    if not at_start[start]:
                        word = starts[bisect_right(starts, start) - 1]
                        if word < start and key[word:start] not in (LAM_PROCLITICS if lam else PROCLITICS):
                            continue
                    found[vocabulary].append((start, stop, phrase, values))
        if len(self._cache) >= _SCAN_CACHE:
            self._cache.clear()
        self._cache[key] = found
        return found


class PhraseIndex(Generic[T]):
    """Many phrases, each with values; ``find`` returns non-overlapping matches in a key string."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self._lexicon = lexicon or Lexicon()
        self._frozen: dict[str, tuple[T, ...]] = {}
        self._vocabulary = self._lexicon.vocabulary(self._frozen)

    def add(self, phrase: str, value: T) -> None:
        open_end = phrase.endswith("*")
        key = normalize_arabic(phrase.rstrip("*"))
        if not key:
            return
        self._frozen[key] = (*self._frozen.get(key, ()), value)
        self._lexicon.touch()
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
        """Non-overlapping matches in ``key``, in text order: (start, end, phrase, values) tuples."""
        raw = self._lexicon.scan(key)[self._vocabulary]
        return list(_longest(raw)) if raw else []


def _longest(found: list[Match]) -> list[Match]:
    """Keep the longest of overlapping matches (earliest on ties), in text order; ``found`` is in the order the
    automaton found them (by end)."""
    if len(found) < 2:
        return found
    previous = -1
    for start, end, _, _ in found:
        if start < previous:
            break
        previous = end
    else:
        return found  # already disjoint and in text order (the usual case): nothing to choose
    return overlaps_resolved(found, 0, 1, _longest_first)


def _longest_first(match: Match) -> tuple[int, int]:
    return match[0] - match[1], match[0]


def overlaps_resolved(items: list[Item], start: int, end: int, rank: Callable[[Item], Any]) -> list[Item]:
    """The greedy choice, in ``rank`` order, of the items (tuples) whose [item[start], item[end]) span overlaps
    none already chosen; returned in text order.

    The same result as running the greedy over all the items, but only groups of mutually overlapping items
    are ranked (the choice inside a group never depends on another group), and most items overlap nothing.
    """
    chosen: list[Item] = []
    group: list[Item] = []
    reach = -1
    for item in sorted(items, key=itemgetter(start)):
        if item[start] >= reach:
            if len(group) > 1:
                chosen += _greedy(group, start, end, rank)
            else:
                chosen += group
            group = []
        group.append(item)
        if item[end] > reach:
            reach = item[end]
    chosen += _greedy(group, start, end, rank) if len(group) > 1 else group
    return chosen


def _greedy(group: list[Item], start: int, end: int, rank: Callable[[Item], Any]) -> list[Item]:
    chosen: list[Any] = []
    for item in sorted(group, key=rank):
        for other in chosen:
            if item[start] < other[end] and other[start] < item[end]:
                break
        else:
            chosen.append(item)
    chosen.sort(key=itemgetter(start))
    return chosen


class Tokens:
    """Words of a key (maximal runs of ``\\w``) with their offsets, found by a few numpy passes over the key."""

    __slots__ = ("_digits", "alnum", "at_start", "ends", "key", "single", "starts", "underscore", "words")

    def __init__(
        self,
        key: str,
        words: list[str],
        starts: list[int],
        ends: list[int],
        single: list[bool],
        digits: list[int] | None = None,
        alnum: bytes | None = None,
        at_start: bytes | None = None,
    ) -> None:
        self.key = key
        self.words = words
        self.starts = starts
        self.ends = ends
        self.single = single  # single[i]: exactly one space between word i and word i + 1
        self.underscore = "_" in key  # \\w holds "_", str.isalnum does not: then word edges are walked
        self._digits = digits
        # alnum[i]: key[i].isalnum(), and 0 at len(key): what the scan asks at every match end.
        self.alnum = alnum if alnum is not None else bytes(c.isalnum() for c in key) + b"\x00"
        # at_start[i]: a word starts at key offset i (what the scan asks of every match start).
        if at_start is None:
            mask = bytearray(len(key) + 1)
            for start in starts:
                mask[start] = 1
            at_start = bytes(mask)
        self.at_start = at_start

    @property
    def spans(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))

    def digits(self) -> list[int]:
        """Offsets of the decimal digits (re's ``\\d``) in the key, in order."""
        if self._digits is None:
            self._digits = [m.start() for m in _DIGIT_RE.finditer(self.key)]
        return self._digits

    def index_at(self, offset: int) -> int:
        """Index of the word containing key offset ``offset`` (or the one before it)."""
        return bisect.bisect_right(self.starts, offset) - 1

    def word_start(self, pos: int) -> int:
        """``text.word_start(key, pos)``: start of the run of letters and digits that ends at or holds ``pos``."""
        if self.underscore:
            return word_start(self.key, pos)
        index = bisect.bisect_right(self.starts, pos) - 1
        return self.starts[index] if index >= 0 and pos <= self.ends[index] else pos

    def word_end(self, pos: int) -> int:
        """``text.word_end(key, pos)``: end of the run of letters and digits that starts at or holds ``pos``."""
        if self.underscore:
            return word_end(self.key, pos)
        index = bisect.bisect_right(self.starts, pos) - 1
        return self.ends[index] if index >= 0 and pos < self.ends[index] else pos


def _char_table(test: Callable[[str], bool]) -> np.ndarray:
    table = np.array([test(chr(code)) for code in range(0x10000)], dtype=bool)
    table[0xD800:0xE000] = False
    return table


_IS_WORD, _IS_DIGIT, _IS_ALNUM = 1, 2, 4
# Per UTF-16 code unit: _IS_WORD for exactly re's \w on str, _IS_DIGIT for exactly its \d.
_CLASSES = _char_table(lambda char: char.isalnum() or char == "_").astype(np.uint8) * _IS_WORD
_CLASSES |= _char_table(str.isdecimal).astype(np.uint8) * _IS_DIGIT
_CLASSES |= _char_table(str.isalnum).astype(np.uint8) * _IS_ALNUM  # \w without "_"
_DIGIT_RE = re.compile(r"\d")
_SPACE = ord(" ")
_SHORT_KEY = 100  # characters: below it (titles) the regex tokenises faster than numpy


@functools.lru_cache(maxsize=16)
def tokenize(key: str) -> Tokens:
    """Words of a key with their offsets (cached: every extractor tokenises the same field keys)."""
    if len(key) < _SHORT_KEY:  # a title: a dozen numpy calls cost more than the regex over a few words
        return _tokenize_with_re(key)
    units = np.frombuffer(key.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
    if len(units) != len(key):  # characters beyond the BMP: UTF-16 offsets are not str offsets
        return _tokenize_with_re(key)
    classes = _CLASSES.take(units)
    word = (classes & _IS_WORD).astype(bool)
    padded = np.zeros(len(units) + 2, dtype=bool)
    padded[1:-1] = word
    edges = np.flatnonzero(padded[1:] != padded[:-1])  # where runs of word characters start and end
    starts, ends = edges[0::2], edges[1::2]
    gaps = starts[1:] - ends[:-1]
    single = (gaps == 1) & (units.take(ends[:-1]) == _SPACE) if len(gaps) else np.zeros(0, dtype=bool)
    # Every other character as a space: str.split() then gives exactly the runs of word characters.
    words = np.where(word, units, _SPACE).astype(np.uint16).tobytes().decode("utf-16-le").split()
    digits = np.flatnonzero(classes & _IS_DIGIT).tolist()
    alnum = (classes & _IS_ALNUM).astype(bool).tobytes() + b"\x00"
    at_start = (padded[1:-1] & ~padded[:-2]).tobytes() + b"\x00"
    return Tokens(key, words, starts.tolist(), ends.tolist(), single.tolist(), digits, alnum, at_start)


def _tokenize_with_re(key: str) -> Tokens:
    """``tokenize`` with the regex: the same tokens, for short keys and text beyond the BMP."""
    spans = [m.span() for m in _TOKEN.finditer(key)]
    first, last = [s for s, _ in spans], [e for _, e in spans]
    spaced = [key[e:s] == " " for e, s in zip(last, first[1:], strict=False)]
    return Tokens(key, _TOKEN.findall(key), first, last, spaced)
