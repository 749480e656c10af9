"""Enrichment: cue rules that read the words around a title, an organisation head or a place word.

Arabic has no capitals, so a name's edges come from its context: titles and their modifiers before a person
(وزير الخارجية الأمريكي أنتوني بلينكن), an organisation head and the definite words and genitives that qualify
it (الجهاز المركزي للتعبئة العامة والإحصاء), a settlement word before a place (بلدة القورية, مخيم نور شمس) or a
facility word that belongs to its name (معبر رفح, مستشفى ابن سينا).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal

from processors.enrich.config import EntitiesConfig
from processors.enrich.gazetteer import PlaceGazetteer
from processors.enrich.matching import Lexicon, Match, PhraseIndex, tokenize
from processors.enrich.text import Keyed, strip_clitics
from processors.normalize import normalize_arabic

_BREAK = re.compile(r"[^\s\"'“”«»‘’]")
_BREAK_OR_QUOTE = re.compile(r"\S")
_QUOTE = re.compile(r"[\"'“”«»‘’]")
_MAX_NAME = 6
_MAX_SKIP = 7
_MAX_ORG = 6
_CONNECTORS = frozenset({"بن", "ابن", "ابو", "عبد", "ولد", "ال", "بنت", "ام", "اب", "بو"})
_FACILITY_TAIL = frozenset({"الدولي", "الدوليه"})
_TANWEEN = re.compile("[\u064b-\u064d]")
_MARKS = re.compile("[\u064b-\u064dى]")


@dataclass(frozen=True, slots=True)
class EntitySpan:
    type: Literal["PER", "ORG", "LOC"]
    start: int  # key offsets
    end: int
    priority: int  # fixed vocabularies beat cue rules on equal length
    place_key: str | None = None  # gazetteer key to resolve a LOC


class Words:
    """Token view of one field key."""

    def __init__(self, key: str, keyed: Keyed | None = None) -> None:
        self.key = key
        self.keyed = keyed
        parts = tokenize(key)
        self.spans, self.words, self.starts = parts.spans, parts.words, parts.starts
        # Only the display text keeps tanween and ى: look there only when it has any.
        self.marked = keyed is not None and bool(_MARKS.search(keyed.original))

    def __len__(self) -> int:
        return len(self.words)

    def joined(self, left: int, right: int, quotes: bool = True) -> bool:
        gap = self.key[self.spans[left][1] : self.spans[right][0]]
        return gap == " " or not (_BREAK if quotes else _BREAK_OR_QUOTE).search(gap)

    def quoted(self, left: int, right: int) -> bool:
        return bool(_QUOTE.search(self.key[self.spans[left][1] : self.spans[right][0]]))

    def index_at(self, offset: int) -> int:
        """Index of the token containing key offset ``offset`` (or the one before it)."""
        return bisect.bisect_right(self.starts, offset) - 1

    def word(self, index: int) -> str:
        return self.words[index] if 0 <= index < len(self.words) else ""

    def original(self, index: int) -> str:
        """The display text of token ``index`` (tanween and ى survive there, not in the key)."""
        if self.keyed is None or not self.marked:
            return self.words[index]
        return self.keyed.original[slice(*self.keyed.span(*self.spans[index]))]


def _keys(words: list[str]) -> set[str]:
    return {normalize_arabic(w) for w in words}


class CueReader:
    def __init__(
        self, config: EntitiesConfig, gazetteer: PlaceGazetteer, demonyms: PhraseIndex[str], lexicon: Lexicon
    ) -> None:
        self._cues: PhraseIndex[str] = PhraseIndex(lexicon)
        for words, role in (
            (config.person_titles, "PER"),
            (config.org_heads, "ORG"),
            (config.loc_settlement_cues, "SET"),
            (config.loc_facility_cues, "FAC"),
        ):
            self._cues.add_all(words, role)
        self._cues.build()
        self._titles = _keys(config.person_titles)
        self._skip = _keys(
            config.person_skip
            + config.person_titles
            + config.org_heads
            + config.loc_facility_cues
            + config.loc_settlement_cues
        )
        self._stop = _keys(config.name_stop)
        self._first_names = _keys(config.first_names)
        self._org_stop = _keys(config.org_modifier_stop) | self._stop
        self._org_heads = _keys(config.org_heads)
        self._generic_heads = _keys(config.generic_heads)
        self._qualifiers = _keys(config.org_qualifiers)
        self._compound_heads = _keys(config.org_compound_heads)
        self._genitives = _keys(config.org_genitives)
        self._strong = _keys(config.loc_strong_cues)
        self._compound = _keys(config.loc_compound_first)
        self._place_keys = set(gazetteer.candidates)
        self._cue_only = set(gazetteer.cue_only)
        self._demonyms = demonyms

    # --- fixed places -------------------------------------------------------------------------------------
    def place_span(self, words: Words, match: Match[str]) -> EntitySpan:
        """A gazetteer match, widened over a first word that belongs to the name (وادي درنة, جبل الزاوية)."""
        index = words.index_at(match.start)
        before = words.word(index - 1)
        if words.starts[index] == match.start and before in self._compound and words.joined(index - 1, index):
            start = words.spans[index - 1][0]
            wide = words.key[start : match.end]
            return EntitySpan("LOC", start, match.end, 2, wide if wide in self._place_keys else match.phrase)
        return EntitySpan("LOC", match.start, match.end, 2, match.phrase)

    # --- cue rules -----------------------------------------------------------------------------------------
    def read(self, words: Words, keyed: Keyed, fixed: list[EntitySpan], demonym_starts: set[int]) -> list[EntitySpan]:
        self._fixed = {words.index_at(s.start): s for s in fixed}
        self._fixed_end = {index: words.index_at(s.end - 1) for index, s in self._fixed.items() if s.type != "PER"}
        self._demonym_tokens = {words.index_at(start) for start in demonym_starts}
        found: list[EntitySpan] = []
        for match in self._cues.find(words.key):
            last = words.index_at(match.end - 1)
            role = match.values[0]
            if role == "ORG":
                found += self._org(words, match.start, last, match.phrase)
            elif role == "PER":
                found += self._person(words, last, match.phrase.startswith("ال"))
            else:
                found += self._location(words, match, last, facility=role == "FAC")
        return found + self._first_name_spans(words, keyed)

    def _org(self, words: Words, start: int, head: int, head_key: str) -> list[EntitySpan]:
        complete, index, used_and, construct_ok = head, head + 1, False, True
        while index < len(words) and index - head <= _MAX_ORG and words.joined(index - 1, index, quotes=False):
            word, following = words.words[index], words.word(index + 1)
            if index in self._fixed_end and self._fixed[index].start != words.starts[index]:
                break  # "حزب الله وحماس": a known name after a conjunction starts a new entity
            if index in self._fixed_end:  # a place or a known organisation inside the name
                complete = index = self._fixed_end[index]
                index, construct_ok = index + 1, False
                continue
            if word in self._org_stop or (complete == head and not self._first_qualifier_ok(head_key, index, word)):
                break
            if word.startswith("ال") or self._genitive(word, following) or self._placed(word):
                complete, construct_ok = index, False
            elif word.startswith("و") and head_key in self._compound_heads and not used_and:
                if not (word[1:].startswith("ال") or following.startswith("ال")) or word[1:] in self._org_heads:
                    break
                used_and, complete = True, index if word[1:].startswith("ال") else complete
            elif not self._construct(words, index, construct_ok):
                break
            index += 1
        if complete == head:
            return []
        return [EntitySpan("ORG", start, words.spans[complete][1], 1)]

    def _placed(self, word: str) -> bool:
        """بصفاقس: a place with a preposition, as in المحكمة الابتدائية بصفاقس."""
        return word[:1] in "بل" and word[1:] in self._place_keys

    def _construct(self, words: Words, index: int, construct_ok: bool) -> bool:
        """An indefinite noun in a genitive chain right after the head (جهاز مكافحة الإرهاب)."""
        word, following = words.words[index], words.word(index + 1)
        if not construct_ok or word[:1] in "ول" or word in self._skip or word in self._first_names:
            return False
        return following.startswith("ال") or index + 1 in self._fixed_end

    def _first_qualifier_ok(self, head_key: str, index: int, word: str) -> bool:
        if head_key not in self._generic_heads:
            return True
        return word in self._qualifiers or index in self._demonym_tokens

    def _genitive(self, word: str, following: str) -> bool:
        return word.startswith("لل") and (word in self._genitives or following.startswith("ال"))

    def _person(self, words: Words, title: int, definite_title: bool) -> list[EntitySpan]:
        position, skipped, previous_plain = title + 1, 0, not definite_title
        while position < len(words) and skipped < _MAX_SKIP:
            if not words.joined(position - 1, position):
                return []
            word = words.words[position]
            bare = strip_clitics(word)
            is_place = word in self._place_keys or bare in self._place_keys
            modifier = word.startswith(("ال", "لل")) or word in self._skip or bare in self._skip
            if word.startswith("و") and (word[1:] in self._skip or word[1:].startswith("ال")):
                modifier = True
            if not (modifier or (is_place and previous_plain)):
                break
            previous_plain = not word.startswith(("ال", "لل"))
            position, skipped = position + 1, skipped + 1
        names = self.name_tokens(words, position)
        if not names:
            return []
        return [EntitySpan("PER", words.spans[names[0]][0], words.spans[names[-1]][1], 1)]

    def name_tokens(self, words: Words, position: int, limit: int = _MAX_NAME) -> list[int]:
        """Token indexes of a personal name starting at ``position`` (empty when none starts there)."""
        known = self._fixed.get(position)
        if known is not None and known.type == "PER":
            return list(range(position, words.index_at(known.end - 1) + 1))
        names: list[int] = []
        plain = 0
        while position < len(words) and len(names) < limit:
            word = words.words[position]
            previous = words.words[names[-1]] if names else ""
            if names and not words.joined(position - 1, position):
                break
            if not self._name_word(words, position, previous):
                break
            if word.startswith("ال") and word != "ال":
                allowed = plain == 1 or previous in _CONNECTORS or previous in self._first_names
                if not names or not (allowed or (previous.startswith("ال") and previous != "ال")):
                    break
            elif names and previous not in _CONNECTORS and self._plain_ends_name(words, position, previous, plain):
                break
            if not word.startswith("ال") and word not in _CONNECTORS:
                plain += 1
            names.append(position)
            position += 1
        while names and words.words[names[-1]] in _CONNECTORS:
            names.pop()
        if names and words.words[names[0]][0] in "يتن" and words.words[names[0]] not in self._first_names:
            return []  # a present-tense verb after the title, not a name
        return names

    def _name_word(self, words: Words, position: int, previous: str) -> bool:
        """Can token ``position`` be part of a name at all?"""
        word = words.words[position]
        after_connector = previous in _CONNECTORS
        if word in self._stop or word.isdigit() or len(word) < 2 or word.startswith("لل"):
            return word == "علي" and "ى" not in words.original(position)  # علي (Ali), not على
        if word in self._skip and not after_connector:
            return False
        if word.startswith("و") and (
            word[1:] in self._skip
            or word[1:] in self._stop
            or word[1:].startswith("ال")
            or word[1:] in self._first_names
        ):
            return False
        return not _TANWEEN.search(words.original(position))  # مرسوماً: names take no tanween

    def _plain_ends_name(self, words: Words, position: int, previous: str, plain: int) -> bool:
        """A plain word after a definite surname, or before a definite noun, is no longer the name."""
        return (previous.startswith("ال") and previous != "ال") or self._object_follows(words, position, plain)

    def _object_follows(self, words: Words, position: int, plain: int) -> bool:
        """A third plain word followed by a definite one is a noun phrase (مراد انتشار النيران), not a name."""
        following = words.word(position + 1)
        return plain >= 2 and following.startswith("ال") and words.joined(position, position + 1)

    def _first_name_spans(self, words: Words, keyed: Keyed) -> list[EntitySpan]:
        found = []
        for index in [i for i, word in enumerate(words.words) if word in self._first_names]:
            before = words.word(index - 1)
            if before in self._first_names or before in self._compound:
                continue
            if "ى" in keyed.original[slice(*keyed.span(*words.spans[index]))]:
                continue  # على (on) and علي (Ali) share one key: the spelling decides
            names = self.name_tokens(words, index, limit=4)
            if len(names) >= 2:
                found.append(EntitySpan("PER", words.spans[index][0], words.spans[names[-1]][1], 0))
        return found

    def _location(self, words: Words, match: Match[str], last: int, facility: bool) -> list[EntitySpan]:
        first = last + 1
        if first >= len(words) or not words.joined(last, first) or first in self._fixed_end:
            return self._facility_around_place(words, match, first) if facility else []
        word = words.words[first]
        if word in self._stop or word in self._org_stop or word in self._org_heads or word.isdigit():
            return []
        end = self._location_end(words, match, first, facility)
        if end is None:
            return []
        quoted = words.quoted(last, first)
        start = match.start if facility and not quoted else words.spans[first][0]
        inner = words.key[words.spans[first][0] : words.spans[end][1]]
        place_key = inner if inner in self._place_keys or inner in self._cue_only else None
        return [EntitySpan("LOC", start, words.spans[end][1], 1, place_key)]

    def _location_end(self, words: Words, match: Match[str], first: int, facility: bool) -> int | None:
        word = words.words[first]
        if word.startswith("ال"):
            if word in self._place_keys or (word not in self._cue_only and normalize_arabic(word) in self._stop):
                return None
            following = words.word(first + 1)
            plain_next = following and not following.startswith(("ال", "و"))
            plain_next = plain_next and (following not in self._stop or self._name_word(words, first + 1, word))
            if facility and plain_next and following not in self._skip and words.joined(first, first + 1):
                return first + 1  # شارع الحبيب بورقيبة
            return first
        if word in self._compound and first + 1 < len(words) and words.joined(first, first + 1):
            return first + 1
        if match.phrase in self._strong or words.quoted(first - 1, first) or facility:
            if facility and (word in self._skip or word.endswith(("ي", "يه"))):
                return None  # an adjective (قاعدة عسكرية), not a name
            names = self.name_tokens(words, first, limit=3)
            return names[-1] if names else None
        return None

    def _facility_around_place(self, words: Words, match: Match[str], first: int) -> list[EntitySpan]:
        """معبر رفح, مطار دمشق الدولي: the facility word, the place after it, and an optional الدولي."""
        if first not in self._fixed_end or self._fixed[first].type != "LOC":
            return []
        end = self._fixed_end[first]
        if words.word(end + 1) in _FACILITY_TAIL and words.joined(end, end + 1):
            end += 1
        return [EntitySpan("LOC", match.start, words.spans[end][1], 1, self._fixed[first].place_key)]
