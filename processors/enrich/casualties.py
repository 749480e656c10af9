"""Enrichment: killed and injured counts from Arabic casualty phrases.

Shapes read around a casualty word found by the automaton: the count after it ("مقتل 5 أشخاص", "مقتل ضابط
وعشرة جنود" = 11), the count before it ("15 قتيلاً و40 جريحاً", "عشرة شهداء"), a toll noun and the first number
after it in the clause ("عدد الوفيات في درنة تجاوز 3000"), counts before a verb ("أربعة متظاهرين وثلاثة من
عناصر الأمن أصيبوا" = 7), and dual or singular victim nouns ("مقتل جنديين" = 2, "مقتل طفل" = 1). Vague amounts
(العشرات، عدد من) are not numbers. When an article gives several counts of one kind the largest is kept:
updates ("ارتفاع الحصيلة إلى …") only ever grow.
"""

from __future__ import annotations

import bisect
import re

from processors.enrich.config import CasualtiesConfig
from processors.enrich.matching import Lexicon, PhraseIndex, tokenize
from processors.enrich.numbers import parse_digits, parse_number_words, scaled_digits
from processors.normalize import normalize_arabic
from processors.records import Casualties

_BREAK = re.compile(r"[.؟?!:؛;\n()«»\"“”،,]")
_MAX_COUNT = 10_000_000
_TOLL_LOOKAHEAD = 7
_VERB_LOOKBACK = 8
_TWO = frozenset({"اثنين", "اثنان", "اثنتين", "اثنتان"})
_CLAUSE_START = frozenset({"ان", "انه", "انها", "بان", "حيث", "الذين", "فيما", "بينما", "كما"})


class _Field:
    """Tokens of one field key with the punctuation that separates them."""

    def __init__(self, key: str) -> None:
        self.key = key
        parts = tokenize(key)
        self.words, self.starts, self.ends, self.single = parts.words, parts.starts, parts.ends, parts.single

    def index_at(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def joined(self, left: int, right: int) -> bool:
        """No clause break (punctuation) between token ``left`` and token ``right``."""
        if left < 0 or right >= len(self.words):
            return False
        if right == left + 1 and self.single[left]:
            return True  # one space: the usual gap
        gap = self.key[self.ends[left] : self.starts[right]]
        return gap == " " or not _BREAK.search(gap)


def _keys(words: list[str]) -> set[str]:
    return {normalize_arabic(w) for w in words}


class CasualtyExtractor:
    def __init__(self, config: CasualtiesConfig, lexicon: Lexicon | None = None) -> None:
        self._anchors: PhraseIndex[tuple[str, str]] = PhraseIndex(lexicon)
        for kind, prefix in (("killed", "killed"), ("injured", "injured")):
            for role in ("before", "after", "dual", "verbs_after", "tolls"):
                self._anchors.add_all(getattr(config, f"{prefix}_{role}"), (role, kind))
        self._anchors.add_all(config.killed_if_people, ("if_people", "killed"))
        self._anchors.build()
        self._before_words = _keys(config.killed_before + config.injured_before)
        self._victims = _keys(config.victim_nouns)
        self._people = _keys(config.people_plurals)
        self._duals = {tuple(normalize_arabic(p).split()) for p in config.dual_nouns}
        fillers = sorted((tuple(normalize_arabic(p).split()) for p in config.fillers), key=len, reverse=True)
        self._fillers: dict[str, list[tuple[str, ...]]] = {}  # by first word, longest first
        for filler in fillers:
            if filler:
                self._fillers.setdefault(filler[0], []).append(filler)

    def extract(self, keys: list[str]) -> Casualties:
        best: dict[str, int] = {}
        for key in keys:
            field = _Field(key)
            for start, end, _, values in self._anchors.find(key):
                for role, kind in set(values):
                    count = self._count(field, start, end, role)
                    if count is not None and 0 < count <= _MAX_COUNT:
                        best[kind] = max(best.get(kind, 0), count)
        return Casualties(killed=best.get("killed"), injured=best.get("injured"))

    def _count(self, field: _Field, start: int, end: int, role: str) -> int | None:
        first, last = field.index_at(start), field.index_at(end - 1)
        glued = start != field.starts[first]
        if role == "dual":
            return 2
        if role == "before":
            if glued and field.words[first - 1 : first] and field.words[first - 1] in self._before_words:
                return None  # "مقتل وإصابة 20": one count for both kinds, unknown split
            return self._count_after(field, last)
        if role == "after":
            # "مقتل 5 وإصابة 10": an anchor with a proclitic starts a new phrase, it closes none.
            return None if glued else self._number_ending_at(field, first - 1)
        if role == "tolls":
            return self._first_number_in_clause(field, last)
        if role == "if_people":
            return self._count_of_people(field, last)
        return self._count_before_verb(field, first)

    def _count_after(self, field: _Field, anchor: int) -> int | None:
        """Counts after a casualty noun, summed over "و" ("مقتل ضابط وعشرة جنود" = 11)."""
        position = self._skip_fillers(field, anchor + 1)
        if not field.joined(anchor, position) or field.words[position][:1] == "و":
            return None
        total, item = 0, self._item(field, position, first=position == anchor + 1)
        while item is not None:
            total += item[0]
            position = item[1]
            if not (field.joined(position - 1, position) and field.words[position][:1] == "و"):
                break
            item = self._item(field, position, first=False, conjunction=True)
        return total or None

    def _item(self, field: _Field, position: int, first: bool, conjunction: bool = False) -> tuple[int, int] | None:
        """One count at ``position``: (value, position after it and its noun) or None."""
        words = field.words[position : position + 6]
        if conjunction and words:
            words = [words[0][1:], *words[1:]]
        for size in (2, 1):
            if tuple(words[:size]) in self._duals:
                return 2, position + size
        if len(words) > 1 and words[1] in _TWO:
            return 2, position + 2
        if words and (first or conjunction) and words[0] in self._victims:
            return 1, position + 1
        number = self._number_at(words)
        if number is None:
            return None
        return number[0], position + number[1] + (1 if len(words) > number[1] else 0)

    def _skip_fillers(self, field: _Field, position: int) -> int:
        for _ in range(3):
            options = self._fillers.get(field.words[position], ()) if position < len(field.words) else ()
            for filler in options:
                if tuple(field.words[position : position + len(filler)]) == filler:
                    position += len(filler)
                    break
            else:
                return position
        return position

    @staticmethod
    def _number_at(words: list[str]) -> tuple[int, int] | None:
        if not words:
            return None
        digits = parse_digits(words[0])
        if digits is not None:
            scaled = scaled_digits(digits, words[1]) if len(words) > 1 else None
            return (scaled, 2) if scaled else (digits, 1)
        return parse_number_words(words)

    def _number_ending_at(self, field: _Field, last: int) -> int | None:
        """A number whose last word is token ``last`` (digits, or number words read forwards)."""
        if last < 0 or not field.joined(last, last + 1):
            return None
        digits = parse_digits(field.words[last])
        if digits is not None:
            return digits
        before = parse_digits(field.words[last - 1]) if last > 0 and field.joined(last - 1, last) else None
        if before is not None and (scaled := scaled_digits(before, field.words[last])):
            return scaled
        for first in range(max(0, last - 3), last + 1):
            parsed = parse_number_words(field.words[first : last + 1])
            if parsed and parsed[1] == last + 1 - first:
                return parsed[0]
        return None

    def _first_number_in_clause(self, field: _Field, anchor: int) -> int | None:
        for position in range(anchor + 1, min(anchor + 1 + _TOLL_LOOKAHEAD, len(field.words))):
            if not field.joined(anchor, position):
                return None
            number = self._number_at(field.words[position : position + 4])
            if number is not None and field.words[position][:1] != "و":
                return number[0]
        return None

    def _count_of_people(self, field: _Field, verb: int) -> int | None:
        """ "سقط 4 جنود": a number then a noun for people."""
        number = self._number_at(field.words[verb + 1 : verb + 5])
        if number is None or not field.joined(verb, verb + 1):
            return None
        noun = field.words[verb + 1 + number[1] : verb + 2 + number[1]]
        return number[0] if noun and noun[0] in self._people else None

    def _count_before_verb(self, field: _Field, verb: int) -> int | None:
        """ "جنديان قتلا", "أربعة متظاهرين وثلاثة من عناصر الأمن أصيبوا" (= 7): the counts of the clause."""
        first = verb
        while first > max(0, verb - _VERB_LOOKBACK) and field.joined(first - 1, first):
            if field.words[first - 1] in _CLAUSE_START:
                break
            first -= 1
        total, position = 0, first
        while position < verb:
            word = field.words[position]
            bare = word[1:] if word[:1] == "و" and len(word) > 2 else word
            if (word,) in self._duals or (bare,) in self._duals:
                total, position = total + 2, position + 1
                continue
            number = self._number_at([bare, *field.words[position + 1 : verb]])
            if number is not None:
                total, position = total + number[0], position + number[1]
            else:
                position += 1
        return total or None
