"""Search query text: the small query language both backends understand.

``word`` (every word must match, stemmed), ``"a phrase"`` (these words in this order, unstemmed), ``prefix*``,
``-excluded``, ``a OR b``. Unbalanced quotes close at the end of the text; characters with meaning to FTS5 or
Lucene never reach them raw (each backend builds its query from these clauses, not from the user's string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pipeline.sinks.analysis import Analyzer, stem

ClauseKind = Literal["term", "phrase", "prefix"]
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_MIN_PREFIX_CHARS = 2


@dataclass(frozen=True)
class Clause:
    kind: ClauseKind
    text: str  # the user's words, as typed (Elasticsearch analyses them itself)
    words: tuple[str, ...]  # normalised words (a prefix clause: its key without article/conjunction)
    stems: tuple[str, ...]  # their stems (what a term clause matches)


@dataclass
class ParsedQuery:
    must: list[list[Clause]] = field(default_factory=list)  # AND of OR-groups
    must_not: list[Clause] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.must and not self.must_not

    def positive(self) -> list[Clause]:
        return [clause for group in self.must for clause in group]


def _clause(text: str, quoted: bool, analyzer: Analyzer) -> Clause | None:
    if not quoted and text.endswith("*") and len(text.rstrip("*")) >= _MIN_PREFIX_CHARS:
        key = analyzer.prefix_key(text.rstrip("*"))
        return Clause("prefix", text.rstrip("*"), (key,), (key,)) if key else None
    words = tuple(analyzer.words(text))
    if not words:
        return None
    kind: ClauseKind = "phrase" if quoted or len(words) > 1 else "term"
    return Clause(kind, text, words, tuple(stem(word) for word in words))


def parse_query(text: str, analyzer: Analyzer | None = None) -> ParsedQuery:
    """Parse the user's query text into clauses (empty text or only punctuation gives an empty query)."""
    analyzer = analyzer or Analyzer()
    parsed = ParsedQuery()
    join_next = False
    for match in _TOKEN.finditer(text):
        negated, phrase, word = match.group(1) == "-", match.group(2), match.group(3)
        if word == "OR":
            join_next = bool(parsed.must)
            continue
        if word is not None and word.startswith("-") and len(word) > 1:
            negated, word = True, word[1:]
        clause = _clause(phrase if phrase is not None else word, phrase is not None, analyzer)
        if clause is None:
            continue
        if negated:
            parsed.must_not.append(clause)
        elif join_next:
            parsed.must[-1].append(clause)
        else:
            parsed.must.append([clause])
        join_next = False
    return parsed
