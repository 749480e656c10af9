"""Highlights: mark the words of a title or body that a query matched, on the original (display) text.

Both backends highlight here, from the stored document, so the output is identical and is plain text pieces
(``(text, matched)`` segments) that interfaces render without ever interpreting article text as markup.
"""

from __future__ import annotations

import re
from itertools import accumulate

from pipeline.sinks.analysis import DISPLAY_WORD, stem, strip_prefix
from pipeline.sinks.querytext import ParsedQuery
from processors.normalize import normalize_arabic

Segment = tuple[str, bool]
SNIPPET_WORDS = 40
_MAX_SCAN_CHARS = 50_000  # highlight within the first 50k characters of a long body
_OPENING_CHARS = 1_000  # about 150 Arabic words


class _Words:
    """Words of a display text with their character spans, normalised forms, stems and prefix-stripped keys."""

    def __init__(self, text: str) -> None:
        # one split and C-level passes, not a match object per word: snippets are most of a search's time
        pieces = _SPLIT.split(text)  # separator, word, separator, word, …, separator
        ends = list(accumulate(map(len, pieces)))
        words = pieces[1::2]
        found = list(map(_FORMS.__getitem__, words))
        word_ends = ends[1::2]
        if None in found:  # display words that normalise to nothing (marks only): not words
            kept = [i for i, forms in enumerate(found) if forms is not None]
            words, found, word_ends = [words[i] for i in kept], [found[i] for i in kept], [word_ends[i] for i in kept]
        self._words, self._ends = words, word_ends
        self.norms, self.stems, self.bare = (
            (list(column) for column in zip(*found, strict=True)) if found else ([], [], [])
        )

    def __len__(self) -> int:
        return len(self._words)

    def span(self, i: int) -> tuple[int, int]:
        """(start, end) of word ``i`` in the text (negative ``i`` counts from the end)."""
        end = self._ends[i]
        return end - len(self._words[i]), end


class _Forms(dict[str, tuple[str, str, str] | None]):
    """(normalised, stem, prefix-stripped) of display words, computed on first sight: news repeats its words."""

    def __missing__(self, word: str) -> tuple[str, str, str] | None:
        if len(self) > _FORMS_LIMIT:
            self.clear()
        key = normalize_arabic(word)
        found = self[word] = (key, stem(key), strip_prefix(key)) if key else None
        return found


_SPLIT = re.compile(f"({DISPLAY_WORD.pattern})")
_FORMS_LIMIT = 200_000
_FORMS = _Forms()


def _marks(words: _Words, query: ParsedQuery) -> list[bool]:
    marks = [False] * len(words)
    for clause in query.positive():
        key = clause.stems[0]
        if clause.kind == "prefix":
            pairs = zip(words.stems, words.bare, strict=True)
            hits = [i for i, (word_stem, bare) in enumerate(pairs) if bare.startswith(key) or word_stem.startswith(key)]
        elif clause.kind == "term":
            hits = [i for i, word_stem in enumerate(words.stems) if word_stem == key]
        else:
            hits = _phrase_hits(words.norms, clause.words)
        for i in hits:
            marks[i] = True
    return marks


def _phrase_hits(norms: list[str], phrase: tuple[str, ...]) -> list[int]:
    size = len(phrase)
    starts = [i for i, norm in enumerate(norms[: len(norms) - size + 1]) if norm == phrase[0]]
    return [i + k for i in starts if tuple(norms[i : i + size]) == phrase for k in range(size)]


def _segments(text: str, words: _Words, marks: list[bool], first: int, last: int) -> list[Segment]:
    """Segments of ``text`` from word ``first`` to word ``last`` inclusive; matched runs merged."""
    segments: list[Segment] = []
    position = words.span(first)[0]
    for i in range(first, last + 1):
        if not marks[i]:
            continue
        start, end = words.span(i)
        gap = text[position:start]
        if segments and segments[-1][1] and not gap.strip():
            segments[-1] = (segments[-1][0] + gap + text[start:end], True)
        else:
            segments += [(gap, False), (text[start:end], True)]
        position = end
    end_of_last = words.span(last)[1] if last + 1 < len(words) else len(text)
    if end_of_last > position:
        segments.append((text[position:end_of_last], False))
    return _merge(segments)


def _merge(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for piece, matched in segments:
        if merged and merged[-1][1] == matched:
            merged[-1] = (merged[-1][0] + piece, matched)
        elif piece:
            merged.append((piece, matched))
    return merged


def highlight_title(title: str, query: ParsedQuery) -> list[Segment]:
    words = _Words(title)
    if not len(words):
        return [(title, False)] if title else []
    segments = _segments(title, words, _marks(words, query), 0, len(words) - 1)
    head, tail = title[: words.span(0)[0]], title[words.span(-1)[1] :]
    return _merge([(head, False), *segments, (tail, False)])


def _opening_words(text: str, size: int) -> _Words:
    """The words of a text's opening, enough to know there are more than ``size`` (a query without words
    marks none, so its snippet is the opening words: reading the whole body was most of such a search)."""
    chars = _OPENING_CHARS
    while chars < len(text):
        words = _Words(text[:chars])
        if len(words) > size + 1:  # the last word of a cut may be cut itself: never reach it
            return words
        chars *= 4
    return _Words(text)


def snippet(text: str, query: ParsedQuery, size: int = SNIPPET_WORDS) -> list[Segment]:
    """The window of ``size`` words with the most matches (the opening words when nothing matched)."""
    scanned = text[:_MAX_SCAN_CHARS]
    words = _Words(scanned) if query.positive() else _opening_words(scanned, size)
    if not len(words):
        return []
    marks = _marks(words, query)
    best_start, best_count, count = 0, -1, 0
    for i, mark in enumerate(marks):
        count += mark
        if i >= size:
            count -= marks[i - size]
        if i >= size - 1 and count > best_count:
            best_start, best_count = i - size + 1, count
    last = min(len(marks), best_start + size) - 1
    segments = _segments(scanned, words, marks, best_start, last)
    if best_start > 0:
        segments.insert(0, ("… ", False))
    if last < len(marks) - 1 or len(scanned) < len(text):
        segments.append((" …", False))
    return _merge(segments)
