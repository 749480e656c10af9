"""Enrichment: killed and injured counts from Arabic casualty phrases.

Three shapes are read around a casualty word found by the automaton: the count after it ("مقتل 5 أشخاص",
"إصابة ثلاثة آخرين"), the count before it ("15 قتيلاً و40 جريحاً", "عشرة شهداء"), and a dual or singular victim
noun ("مقتل جنديين" = 2, "مقتل طفل" = 1). Vague amounts (العشرات، عدد من) are not numbers. When an article
gives several counts of one kind the largest is kept: updates ("ارتفاع الحصيلة إلى …") only ever grow.
"""

from __future__ import annotations

import bisect
import re

from processors.enrich.config import CasualtiesConfig
from processors.enrich.matching import PhraseIndex, tokens
from processors.enrich.numbers import parse_digits, parse_number_words
from processors.normalize import normalize_arabic
from processors.records import Casualties

_BREAK = re.compile(r"[.؟?!:؛;\n()«»\"“”]")
_MAX_COUNT = 100_000
_LOOKAHEAD = 6


class _Field:
    """Tokens of one field key with the punctuation that separates them."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.spans = tokens(key)
        self.words = [key[s:e] for s, e in self.spans]
        self.starts = [s for s, _ in self.spans]

    def index_at(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def joined(self, left: int, right: int) -> bool:
        """No clause break between token ``left`` and token ``right``."""
        return not _BREAK.search(self.key[self.spans[left][1] : self.spans[right][0]])


class CasualtyExtractor:
    def __init__(self, config: CasualtiesConfig) -> None:
        self._anchors: PhraseIndex[tuple[str, str]] = PhraseIndex()
        for kind, before, after, dual, verbs in (
            ("killed", config.killed_before, config.killed_after, config.killed_dual, config.killed_verbs_after),
            ("injured", config.injured_before, config.injured_after, config.injured_dual, config.injured_verbs_after),
        ):
            self._anchors.add_all(before, ("before", kind))
            self._anchors.add_all(after, ("after", kind))
            self._anchors.add_all(dual, ("dual", kind))
            self._anchors.add_all(verbs, ("verb", kind))
        self._anchors.build()
        self._before_words = {normalize_arabic(w) for w in config.killed_before + config.injured_before}
        self._victims = {normalize_arabic(w) for w in config.victim_nouns}
        self._duals = {tuple(normalize_arabic(p).split()) for p in config.dual_nouns}
        self._fillers = sorted((tuple(normalize_arabic(p).split()) for p in config.fillers), key=len, reverse=True)

    def extract(self, keys: list[str]) -> Casualties:
        best: dict[str, int] = {}
        for key in keys:
            field = _Field(key)
            for match in self._anchors.find(key):
                for role, kind in set(match.values):
                    count = self._count(field, match.start, match.end, role)
                    if count is not None and 0 < count <= _MAX_COUNT:
                        best[kind] = max(best.get(kind, 0), count)
        return Casualties(killed=best.get("killed"), injured=best.get("injured"))

    def _count(self, field: _Field, start: int, end: int, role: str) -> int | None:
        first, last = field.index_at(start), field.index_at(end - 1)
        if first < 0:
            return None
        if role == "dual":
            return 2
        if role == "before":
            if start != field.starts[first] and first and field.words[first - 1] in self._before_words:
                return None  # "مقتل وإصابة 20": one count for both kinds, unknown split
            return self._count_after(field, last)
        if role == "after":
            # "مقتل 5 وإصابة 10": an anchor with a proclitic starts a new phrase, it closes none.
            glued = start != field.starts[first]
            return None if glued else self._number_ending_at(field, first - 1)
        return self._count_before_verb(field, first)

    def _count_after(self, field: _Field, anchor: int) -> int | None:
        position = self._skip_fillers(field, anchor + 1)
        if position >= len(field.words) or not field.joined(anchor, position):
            return None
        words = field.words[position : position + _LOOKAHEAD]
        for size in (2, 1):
            if tuple(words[:size]) in self._duals:
                return 2
        if position == anchor + 1 and words[0] in self._victims:
            return 1
        return self._number_at(words)

    def _skip_fillers(self, field: _Field, position: int) -> int:
        for _ in range(3):
            for filler in self._fillers:
                if tuple(field.words[position : position + len(filler)]) == filler:
                    position += len(filler)
                    break
            else:
                return position
        return position

    @staticmethod
    def _number_at(words: list[str]) -> int | None:
        if not words:
            return None
        digits = parse_digits(words[0])
        if digits is not None:
            return digits
        parsed = parse_number_words(words)
        return parsed[0] if parsed else None

    def _number_ending_at(self, field: _Field, last: int) -> int | None:
        """A number whose last word is token ``last`` (digits, or number words read forwards)."""
        if last < 0 or not field.joined(last, last + 1):
            return None
        digits = parse_digits(field.words[last])
        if digits is not None:
            return digits
        for first in range(max(0, last - 3), last + 1):
            parsed = parse_number_words(field.words[first : last + 1])
            if parsed and parsed[1] == last + 1 - first:
                return parsed[0]
        return None

    def _count_before_verb(self, field: _Field, verb: int) -> int | None:
        """ "3 جنود قتلوا", "جنديان قتلا": a number or a dual right before the verb, or before its noun."""
        if verb >= 1 and (field.words[verb - 1],) in self._duals:
            return 2
        for noun_gap in (0, 1):
            count = self._number_ending_at(field, verb - 1 - noun_gap)
            if count is not None:
                return count
        return None
