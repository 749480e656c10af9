"""Enrichment: PER, ORG and LOC mentions from gazetteers and cue words (no NER model ships offline, NOTES §6).

Fixed vocabularies (places, well-known people and organisations) are matched by automaton. Cue rules then
read the words around a cue: a title before a person's name (الرئيس السوري بشار الأسد), an organisation head
and the words qualifying it (وزارة الصحة الفلسطينية), a settlement word before a place name (بلدة القورية), a
facility word that is part of its name (معبر رفح). Overlaps keep the longest span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from processors.enrich.config import EntitiesConfig
from processors.enrich.gazetteer import PlaceGazetteer
from processors.enrich.matching import Match, PhraseIndex, tokens
from processors.enrich.text import Keyed, strip_clitics
from processors.normalize import normalize_arabic

_BREAK = re.compile(r"[^\s\"'“”«»‘’]")
_QUOTE = re.compile(r"[\"'“”«»‘’]")
_MAX_NAME = 4
_MAX_SKIP = 6


@dataclass(frozen=True, slots=True)
class EntitySpan:
    type: Literal["PER", "ORG", "LOC"]
    start: int  # key offsets
    end: int
    priority: int  # fixed vocabularies beat cue rules on equal length
    place_key: str | None = None  # gazetteer key to resolve a LOC
    cue: str = ""  # the cue word before a LOC (محافظة …), for resolution


def _keys(words: list[str]) -> set[str]:
    return {normalize_arabic(w) for w in words}


class _Words:
    """Token view of one field key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.spans = tokens(key)
        self.words = [key[s:e] for s, e in self.spans]
        self.by_start = {s: i for i, (s, _) in enumerate(self.spans)}
        self.by_end = {e: i for i, (_, e) in enumerate(self.spans)}

    def joined(self, left: int, right: int) -> bool:
        return not _BREAK.search(self.key[self.spans[left][1] : self.spans[right][0]])

    def quoted(self, left: int, right: int) -> bool:
        return bool(_QUOTE.search(self.key[self.spans[left][1] : self.spans[right][0]]))

    def index_of(self, offset: int) -> int | None:
        for i, (s, e) in enumerate(self.spans):
            if s <= offset < e:
                return i
        return None


class EntityFinder:
    def __init__(self, config: EntitiesConfig, gazetteer: PlaceGazetteer) -> None:
        self._places: PhraseIndex[str] = PhraseIndex()
        for key in gazetteer.candidates:
            self._places.add(key, key)
        self._places.build()
        self._country_keys: dict[str, str] = {
            key: entries[0].country_code
            for key, entries in gazetteer.candidates.items()
            if entries and entries[0].kind == "country" and entries[0].country_code
        }
        self._demonyms: PhraseIndex[str] = PhraseIndex()
        for code, adjectives in gazetteer.demonyms.items():
            for adjective in adjectives:
                forms = [adjective + ending for ending in ("", "ة", "ين", "ون", "ان", "تين", "تان")]
                self._demonyms.add_all(forms + ["ال" + form for form in forms], code)
        self._demonyms.build()
        self._known: PhraseIndex[Literal["PER", "ORG"]] = PhraseIndex()
        self._known.add_all(config.known_people, "PER")
        self._known.add_all(config.known_orgs, "ORG")
        self._known.build()
        self._cues: PhraseIndex[str] = PhraseIndex()
        for words, role in (
            (config.person_titles, "PER"),
            (config.org_heads, "ORG"),
            (config.loc_settlement_cues, "SET"),
            (config.loc_facility_cues, "FAC"),
        ):
            self._cues.add_all(words, role)
        self._cues.build()
        self._skip = _keys(
            config.person_skip + config.org_heads + config.loc_facility_cues + config.loc_settlement_cues
        )
        self._stop = _keys(config.name_stop)
        self._first_names = _keys(config.first_names)
        self._org_stop = _keys(config.org_modifier_stop) | self._stop
        self._compound = _keys(config.loc_compound_first)
        self._org_heads = _keys(config.org_heads)
        self._place_keys = set(gazetteer.candidates)

    def find(self, keyed: Keyed) -> tuple[list[EntitySpan], set[str], set[str]]:
        """Entity spans of one field, the countries it names (also inside organisations) and by adjective."""
        key = keyed.key
        words = _Words(key)
        places = self._places.find(key)
        countries = {self._country_keys[m.phrase] for m in places if m.phrase in self._country_keys}
        adjectives = {m.values[0] for m in self._demonyms.find(key)}
        fixed = [EntitySpan("LOC", m.start, m.end, 2, m.phrase) for m in places]
        fixed += [EntitySpan(m.values[0], m.start, m.end, 2) for m in self._known.find(key)]
        ruled = [span for match in self._cues.find(key) for span in self._from_cue(words, match)]
        ruled += self._first_name_spans(words, keyed)
        return _select(fixed + ruled), countries, adjectives

    def _from_cue(self, words: _Words, match: Match[str]) -> list[EntitySpan]:
        last = words.index_of(match.end - 1)
        if last is None:
            return []
        role = match.values[0]
        if role == "ORG":
            return self._org(words, match.start, last)
        if role == "PER":
            return self._person(words, last + 1, skip=True)
        return self._location(words, match, last, facility=role == "FAC")

    def _org(self, words: _Words, start: int, head: int) -> list[EntitySpan]:
        end_index = head
        for i in range(head + 1, min(head + 1 + _MAX_NAME, len(words.words))):
            word = words.words[i]
            qualifies = (
                word.startswith("ال")
                or word in self._place_keys
                or word in self._known
                or (word.startswith("لل") and len(word) > 4)
            )
            if not words.joined(i - 1, i) or word in self._org_stop or not qualifies:
                break
            end_index = i
        if end_index == head:
            return []
        return [EntitySpan("ORG", start, words.spans[end_index][1], 1)]

    def _person(self, words: _Words, position: int, skip: bool) -> list[EntitySpan]:
        skipped = 0
        while skip and position < len(words.words) and skipped < _MAX_SKIP and words.joined(position - 1, position):
            word = words.words[position]
            if not (
                word.startswith(("ال", "لل"))
                or word in self._skip
                or strip_clitics(word) in self._skip
                or word in self._place_keys
            ):
                break
            position, skipped = position + 1, skipped + 1
        names = self._name_tokens(words, position)
        if not names:
            return []
        return [EntitySpan("PER", words.spans[names[0]][0], words.spans[names[-1]][1], 1)]

    def _name_tokens(self, words: _Words, position: int) -> list[int]:
        names: list[int] = []
        while position < len(words.words) and len(names) < _MAX_NAME:
            word = words.words[position]
            if position and not words.joined(position - 1, position):
                break
            if word in self._stop or word in self._skip or word.isdigit() or len(word) < 2:
                break
            if word.startswith("ال"):
                if names:
                    names.append(position)
                break
            names.append(position)
            position += 1
        if names and words.words[names[0]][0] in "يتن" and words.words[names[0]] not in self._first_names:
            return []  # a present-tense verb after the title, not a name
        return names

    def _first_name_spans(self, words: _Words, keyed: Keyed) -> list[EntitySpan]:
        found = []
        for i, word in enumerate(words.words):
            if word in self._first_names and (i == 0 or words.words[i - 1] not in self._first_names):
                if "ى" in keyed.original[slice(*keyed.span(*words.spans[i]))]:
                    continue  # على (on) and علي (Ali) share one key: the spelling decides
                names = self._name_tokens(words, i)
                if len(names) >= 2:
                    found.append(EntitySpan("PER", words.spans[i][0], words.spans[names[-1]][1], 0))
        return found

    def _location(self, words: _Words, match: Match[str], last: int, facility: bool) -> list[EntitySpan]:
        first = last + 1
        if first >= len(words.words) or not words.joined(last, first):
            return []
        word = words.words[first]
        if word in self._stop or word in self._org_stop or word in self._org_heads or word.isdigit():
            return []
        if not (
            word.startswith("ال")
            or word in self._compound
            or word in self._place_keys
            or words.quoted(last, first)
            or not facility
        ):
            return []
        end = first
        if word in self._compound and first + 1 < len(words.words) and words.joined(first, first + 1):
            end = first + 1
        start = words.spans[first][0] if (not facility or words.quoted(last, first)) else match.start
        inner = words.key[words.spans[first][0] : words.spans[end][1]]
        cue = strip_clitics(words.words[last])
        return [EntitySpan("LOC", start, words.spans[end][1], 1, inner if inner in self._place_keys else None, cue)]


def _select(spans: list[EntitySpan]) -> list[EntitySpan]:
    chosen: list[EntitySpan] = []
    for span in sorted(spans, key=lambda s: (s.start - s.end, -s.priority, s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
