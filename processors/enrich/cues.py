"""Enrichment: cue rules that read the words around a title, an organisation head or a place word.

Arabic has no capitals, so a name's edges come from its context: titles and their modifiers before a person
(وزير الخارجية الأمريكي أنتوني بلينكن), an organisation head and the definite words and genitives that qualify
it (الجهاز المركزي للتعبئة العامة والإحصاء), a settlement word before a place (بلدة القورية, مخيم نور شمس) or a
facility word that belongs to its name (معبر رفح, مستشفى ابن سينا).
"""

from __future__ import annotations

import bisect
import re
from itertools import compress, count
from typing import Literal, NamedTuple

from processors.enrich.config import EntitiesConfig
from processors.enrich.gazetteer import PlaceGazetteer
from processors.enrich.matching import Lexicon, Match, PhraseIndex, tokenize
from processors.enrich.text import Keyed, strip_clitics
from processors.normalize import normalize_arabic

_BREAK = re.compile(r"[^\s\"'“”«»‘’]")
_BREAK_OR_QUOTE = re.compile(r"\S")
_QUOTE = re.compile(r"[\"'“”«»‘’]")
_DEFINITE = ("ال", "لل")  # the article, and the article after ل
_MAX_NAME = 6
_MAX_SKIP = 7
_MAX_ORG = 6
_CONNECTORS = frozenset({"بن", "ابن", "ابو", "عبد", "ولد", "ال", "بنت", "ام", "اب", "بو"})
_FACILITY_TAIL = frozenset({"الدولي", "الدوليه"})
_TANWEEN_MARKS = "\u064b\u064c\u064d"
_TANWEEN = re.compile(f"[{_TANWEEN_MARKS}]")


# EntitySpan(*fields) without the Python frame of a NamedTuple's __new__ (which only does this): the hot
# paths make ~100 spans per article, and the frame costs more than the tuple.
new_span = tuple.__new__


class EntitySpan(NamedTuple):
    type: Literal["PER", "ORG", "LOC"]
    start: int  # key offsets
    end: int
    priority: int  # fixed vocabularies beat cue rules on equal length
    place_key: str | None = None  # gazetteer key to resolve a LOC


class Words:
    """Token view of one field key."""

    __slots__ = ("ends", "key", "keyed", "marked", "single", "starts", "tanween", "tokens", "words")

    def __init__(self, key: str, keyed: Keyed | None = None) -> None:
        self.key = key
        self.keyed = keyed
        self.tokens = tokens = tokenize(key)
        self.words, self.starts, self.ends, self.single = tokens.words, tokens.starts, tokens.ends, tokens.single
        # Only the display text keeps tanween and ى: look there only when it has any.
        self.tanween = keyed is not None and _has_tanween(keyed)
        self.marked = keyed is not None and (self.tanween or "ى" in keyed.original)

    def __len__(self) -> int:
        return len(self.words)

    def joined(self, left: int, right: int, quotes: bool = True) -> bool:
        if right == left + 1 and left >= 0 and self.single[left]:
            return True  # one space: the usual gap
        gap = self.key[self.ends[left] : self.starts[right]]
        return gap == " " or not (_BREAK if quotes else _BREAK_OR_QUOTE).search(gap)

    def quoted(self, left: int, right: int) -> bool:
        if right == left + 1 and left >= 0 and self.single[left]:
            return False
        return bool(_QUOTE.search(self.key[self.ends[left] : self.starts[right]]))

    def index_at(self, offset: int) -> int:
        """Index of the token containing key offset ``offset`` (or the one before it)."""
        return bisect.bisect_right(self.starts, offset) - 1

    def word(self, index: int) -> str:
        return self.words[index] if 0 <= index < len(self.words) else ""

    def original(self, index: int) -> str:
        """The display text of token ``index`` (tanween and ى survive there, not in the key)."""
        if self.keyed is None or not self.marked:
            return self.words[index]
        return self.keyed.original[slice(*self.keyed.span(self.starts[index], self.ends[index]))]


def _has_tanween(keyed: Keyed) -> bool:
    """Whether the display text has tanween (which the key drops: so only where marks were dropped)."""
    if keyed.marks is not None:  # the positions of all the dropped marks: a handful
        original = keyed.original
        return any(original[position] in _TANWEEN_MARKS for position in keyed.marks)
    if keyed.shifts or keyed.offsets is not None:
        return bool(_TANWEEN.search(keyed.original))
    return False  # nothing was dropped, so no tanween either


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
        start, end, phrase, _ = match
        starts = words.starts
        index = bisect.bisect_right(starts, start) - 1
        before = words.words[index - 1] if 0 < index <= len(starts) else ""
        if starts[index] == start and before in self._compound and words.joined(index - 1, index):
            start = starts[index - 1]
            wide = words.key[start:end]
            return new_span(EntitySpan, ("LOC", start, end, 2, wide if wide in self._place_keys else phrase))
        return new_span(EntitySpan, ("LOC", start, end, 2, phrase))

    # --- cue rules -----------------------------------------------------------------------------------------
    def read(self, words: Words, keyed: Keyed, fixed: list[EntitySpan], demonym_starts: set[int]) -> list[EntitySpan]:
        starts, bisect_right = words.starts, bisect.bisect_right
        self._fixed = {bisect_right(starts, s.start) - 1: s for s in fixed}
        self._fixed_end = {i: bisect_right(starts, s.end - 1) - 1 for i, s in self._fixed.items() if s.type != "PER"}
        self._demonym_tokens = {bisect_right(starts, start) - 1 for start in demonym_starts}
        found: list[EntitySpan] = []
        for start, end, phrase, values in self._cues.find(words.key):
            last = bisect_right(starts, end - 1) - 1
            role = values[0]
            if role == "ORG":
                found += self._org(words, start, last, phrase)
            elif role == "PER":
                found += self._person(words, last, phrase[:2] == "ال")
            else:
                found += self._location(words, start, phrase, last, facility=role == "FAC")
        return found + self._first_name_spans(words, keyed)

    def _org(self, words: Words, start: int, head: int, head_key: str) -> list[EntitySpan]:
        # A definite noun heads no genitive chain (الأمم المتحدة طرفي النزاع: the verb's object follows)
        construct_ok = head_key.rsplit(" ", 1)[-1][:2] != "ال"
        complete, index, used_and = head, head + 1, False
        tokens, single, count = words.words, words.single, len(words.words)
        fixed_end = self._fixed_end
        while index < count and index - head <= _MAX_ORG:
            if not (single[index - 1] or words.joined(index - 1, index, quotes=False)):
                break
            word, following = tokens[index], tokens[index + 1] if index + 1 < count else ""
            if index in fixed_end:
                if self._fixed[index].start != words.starts[index]:
                    break  # "حزب الله وحماس": a known name after a conjunction starts a new entity
                # a place or a known organisation inside the name
                complete = index = fixed_end[index]
                index, construct_ok = index + 1, False
                continue
            if word in self._org_stop or (complete == head and not self._first_qualifier_ok(head_key, index, word)):
                break
            if word[:2] == "ال" or self._genitive(word, following) or self._placed(word):
                complete, construct_ok = index, False
            elif word[:1] == "و" and head_key in self._compound_heads and not used_and:
                if not (word[1:3] == "ال" or following[:2] == "ال") or word[1:] in self._org_heads:
                    break
                used_and, complete = True, index if word[1:3] == "ال" else complete
            elif not self._construct(words, index, construct_ok):
                break
            index += 1
        if complete == head:
            return []
        return [new_span(EntitySpan, ("ORG", start, words.ends[complete], 1, None))]

    def _placed(self, word: str) -> bool:
        """بصفاقس: a place with a preposition, as in المحكمة الابتدائية بصفاقس."""
        return word[:1] in "بل" and word[1:] in self._place_keys

    def _construct(self, words: Words, index: int, construct_ok: bool) -> bool:
        """An indefinite noun in a genitive chain right after the head (جهاز مكافحة الإرهاب)."""
        word, following = words.words[index], words.word(index + 1)
        if not construct_ok or word[:1] in "ول" or word in self._skip or word in self._first_names:
            return False
        return following[:2] == "ال" or index + 1 in self._fixed_end

    def _first_qualifier_ok(self, head_key: str, index: int, word: str) -> bool:
        if head_key not in self._generic_heads:
            return True
        return word in self._qualifiers or index in self._demonym_tokens

    def _genitive(self, word: str, following: str) -> bool:
        return word[:2] == "لل" and (word in self._genitives or following[:2] == "ال")

    def _person(self, words: Words, title: int, definite_title: bool) -> list[EntitySpan]:
        position, skipped, previous_plain = title + 1, 0, not definite_title
        tokens, single, count = words.words, words.single, len(words.words)
        skip, places = self._skip, self._place_keys
        while position < count and skipped < _MAX_SKIP:
            if not (single[position - 1] or words.joined(position - 1, position)):
                return []
            word = tokens[position]
            definite = word[:2] in _DEFINITE
            if not definite and word not in skip:
                bare = strip_clitics(word)
                modifier = bare in skip or (word[:1] == "و" and (word[1:] in skip or word[1:3] == "ال"))
                if not (modifier or (previous_plain and (word in places or bare in places))):
                    break
            previous_plain = not definite
            position, skipped = position + 1, skipped + 1
        names = self.name_tokens(words, position)
        if not names:
            return []
        return [new_span(EntitySpan, ("PER", words.starts[names[0]], words.ends[names[-1]], 1, None))]

    def name_tokens(self, words: Words, position: int, limit: int = _MAX_NAME) -> list[int]:
        """Token indexes of a personal name starting at ``position`` (empty when none starts there)."""
        known = self._fixed.get(position)
        if known is not None and known.type == "PER":
            return list(range(position, words.index_at(known.end - 1) + 1))
        names: list[int] = []
        plain = 0
        tokens, single, count = words.words, words.single, len(words.words)
        first_names = self._first_names
        while position < count and len(names) < limit:
            word = tokens[position]
            previous = tokens[names[-1]] if names else ""
            if names and not (single[position - 1] or words.joined(position - 1, position)):
                break
            if not self._name_word(words, position, previous):
                break
            definite = word[:2] == "ال" and word != "ال"
            if definite:
                allowed = plain == 1 or previous in _CONNECTORS or previous in first_names
                if not names or not (allowed or (previous[:2] == "ال" and previous != "ال")):
                    break
            elif names and previous not in _CONNECTORS and self._plain_ends_name(words, position, previous, plain):
                break
            if word[:2] != "ال" and word not in _CONNECTORS:
                plain += 1
            names.append(position)
            position += 1
        while names and tokens[names[-1]] in _CONNECTORS:
            names.pop()
        if names and tokens[names[0]][0] in "يتن" and tokens[names[0]] not in first_names:
            return []  # a present-tense verb after the title, not a name
        return names

    def _name_word(self, words: Words, position: int, previous: str) -> bool:
        """Can token ``position`` be part of a name at all?"""
        word = words.words[position]
        if word in self._stop or word.isdigit() or len(word) < 2 or word[:2] == "لل":
            return word == "علي" and "ى" not in words.original(position)  # علي (Ali), not على
        if word in self._skip and previous not in _CONNECTORS:
            return False
        if word[:1] == "و" and (
            word[1:] in self._skip or word[1:] in self._stop or word[1:3] == "ال" or word[1:] in self._first_names
        ):
            return False
        # ووقف, ووصل: "and" before a word that itself starts with و (وقف, وصل) starts a clause, not a name
        if word[:2] == "وو" and word not in self._first_names:
            return False
        # مرسوماً: names take no tanween (only the display text has it, and only if it has any at all)
        return not (words.tanween and _TANWEEN.search(words.original(position)))

    def _plain_ends_name(self, words: Words, position: int, previous: str, plain: int) -> bool:
        """A plain word after a definite surname, or before a definite noun, is no longer the name."""
        return (previous[:2] == "ال" and previous != "ال") or self._object_follows(words, position, plain)

    def _object_follows(self, words: Words, position: int, plain: int) -> bool:
        """A third plain word followed by a definite one is a noun phrase (مراد انتشار النيران), not a name."""
        if plain < 2:
            return False
        following = words.word(position + 1)
        return following[:2] == "ال" and words.joined(position, position + 1)

    def _first_name_spans(self, words: Words, keyed: Keyed) -> list[EntitySpan]:
        found = []
        maqsura = "ى" in keyed.original
        tokens = words.words
        for index in list(compress(count(), map(self._first_names.__contains__, tokens))):
            before = tokens[index - 1] if index else ""
            if before in self._first_names or before in self._compound:
                continue
            if maqsura and "ى" in keyed.original[slice(*keyed.span(words.starts[index], words.ends[index]))]:
                continue  # على (on) and علي (Ali) share one key: the spelling decides
            names = self.name_tokens(words, index, limit=4)
            if len(names) >= 2:
                found.append(new_span(EntitySpan, ("PER", words.starts[index], words.ends[names[-1]], 0, None)))
        return found

    def _location(self, words: Words, cue_start: int, cue: str, last: int, facility: bool) -> list[EntitySpan]:
        first = last + 1
        if first >= len(words.words) or not words.joined(last, first) or first in self._fixed_end:
            return self._facility_around_place(words, cue_start, first) if facility else []
        word = words.words[first]
        if word in self._stop or word in self._org_stop or word in self._org_heads or word.isdigit():
            return []
        end = self._location_end(words, cue, first, facility)
        if end is None:
            return []
        quoted = words.quoted(last, first)
        start = cue_start if facility and not quoted else words.starts[first]
        inner = words.key[words.starts[first] : words.ends[end]]
        place_key = inner if inner in self._place_keys or inner in self._cue_only else None
        return [new_span(EntitySpan, ("LOC", start, words.ends[end], 1, place_key))]

    def _location_end(self, words: Words, cue: str, first: int, facility: bool) -> int | None:
        word = words.words[first]
        if word[:2] == "ال":
            if word in self._place_keys or (word not in self._cue_only and normalize_arabic(word) in self._stop):
                return None
            following = words.word(first + 1)
            plain_next = following and not following.startswith(("ال", "و"))
            plain_next = plain_next and (following not in self._stop or self._name_word(words, first + 1, word))
            if facility and plain_next and following not in self._skip and words.joined(first, first + 1):
                return first + 1  # شارع الحبيب بورقيبة
            return first
        if word in self._compound and first + 1 < len(words.words) and words.joined(first, first + 1):
            return first + 1
        if cue in self._strong or words.quoted(first - 1, first) or facility:
            if facility and (word in self._skip or word.endswith(("ي", "يه"))):
                return None  # an adjective (قاعدة عسكرية), not a name
            names = self.name_tokens(words, first, limit=3)
            return names[-1] if names else None
        return None

    def _facility_around_place(self, words: Words, cue_start: int, first: int) -> list[EntitySpan]:
        """معبر رفح, مطار دمشق الدولي: the facility word, the place after it, and an optional الدولي."""
        if first not in self._fixed_end or self._fixed[first].type != "LOC":
            return []
        end = self._fixed_end[first]
        if words.word(end + 1) in _FACILITY_TAIL and words.joined(end, end + 1):
            end += 1
        return [EntitySpan("LOC", cue_start, words.ends[end], 1, self._fixed[first].place_key)]
