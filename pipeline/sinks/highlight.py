"""Highlights: mark the words of a title or body that a query matched, on the original (display) text.

Both backends highlight here, from the stored document, so the output is identical and is plain text pieces
(``(text, matched)`` segments) that interfaces render without ever interpreting article text as markup.
"""

from __future__ import annotations

from pipeline.sinks.analysis import DISPLAY_WORD, stem, strip_prefix
from pipeline.sinks.querytext import ParsedQuery
from processors.normalize import normalize_arabic

Segment = tuple[str, bool]
SNIPPET_WORDS = 40
_MAX_SCAN_CHARS = 50_000  # highlight within the first 50k characters of a long body


class _Words:
    """Words of a display text with their character spans, stems and prefix-stripped keys."""

    def __init__(self, text: str) -> None:
        self.spans: list[tuple[int, int]] = []
        self.stems: list[str] = []
        self.bare: list[str] = []
        self.norms: list[str] = []
        for match in DISPLAY_WORD.finditer(text):
            forms = _forms(match.group())
            if forms is None:
                continue
            self.spans.append(match.span())
            self.norms.append(forms[0])
            self.stems.append(forms[1])
            self.bare.append(forms[2])


_FORMS: dict[str, tuple[str, str, str] | None] = {}
_FORMS_LIMIT = 200_000


def _forms(word: str) -> tuple[str, str, str] | None:
    """(normalised, stem, prefix-stripped) of a display word, cached: news text repeats its words."""
    found = _FORMS.get(word, False)
    if found is False:
        if len(_FORMS) > _FORMS_LIMIT:
            _FORMS.clear()
        key = normalize_arabic(word)
        found = _FORMS[word] = (key, stem(key), strip_prefix(key)) if key else None
    return found  # type: ignore[return-value]


def _marks(words: _Words, query: ParsedQuery) -> list[bool]:
    marks = [False] * len(words.stems)
    for clause in query.positive():
        if clause.kind == "prefix":
            key = clause.stems[0]
            for i, (word_stem, bare) in enumerate(zip(words.stems, words.bare, strict=True)):
                if bare.startswith(key) or word_stem.startswith(key):
                    marks[i] = True
            continue
        if clause.kind == "term":
            for i, word_stem in enumerate(words.stems):
                if word_stem == clause.stems[0]:
                    marks[i] = True
            continue
        size = len(clause.words)
        for i in range(len(words.norms) - size + 1):
            if tuple(words.norms[i : i + size]) == clause.words:
                marks[i : i + size] = [True] * size
    return marks


def _segments(text: str, words: _Words, marks: list[bool], first: int, last: int) -> list[Segment]:
    """Segments of ``text`` from word ``first`` to word ``last`` inclusive; matched runs merged."""
    segments: list[Segment] = []
    position = words.spans[first][0]
    for i in range(first, last + 1):
        if not marks[i]:
            continue
        start, end = words.spans[i]
        gap = text[position:start]
        if segments and segments[-1][1] and not gap.strip():
            segments[-1] = (segments[-1][0] + gap + text[start:end], True)
        else:
            segments += [(gap, False), (text[start:end], True)]
        position = end
    end_of_last = words.spans[last][1] if last + 1 < len(words.spans) else len(text)
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
    if not words.spans:
        return [(title, False)] if title else []
    segments = _segments(title, words, _marks(words, query), 0, len(words.spans) - 1)
    head, tail = title[: words.spans[0][0]], title[words.spans[-1][1] :]
    return _merge([(head, False), *segments, (tail, False)])


def snippet(text: str, query: ParsedQuery, size: int = SNIPPET_WORDS) -> list[Segment]:
    """The window of ``size`` words with the most matches (the opening words when nothing matched)."""
    scanned = text[:_MAX_SCAN_CHARS]
    words = _Words(scanned)
    if not words.spans:
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
