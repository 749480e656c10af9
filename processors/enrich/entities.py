"""Enrichment: PER, ORG and LOC mentions from gazetteers and cue words (no NER model ships offline, NOTES §6).

Fixed vocabularies (places, well-known people and organisations) are matched by automaton. Cue rules
(``processors.enrich.cues``) then read the words around a cue: a title before a person's name, an organisation
head and the words qualifying it, a settlement or facility word before a place name. Overlaps keep the
longest span; a person's surname named in full once is then found alone too (الصفدي after أيمن الصفدي).
"""

from __future__ import annotations

from itertools import compress, count
from typing import Literal

from processors.enrich.config import EntitiesConfig
from processors.enrich.cues import CueReader, EntitySpan, Words, new_span
from processors.enrich.gazetteer import PlaceGazetteer
from processors.enrich.matching import Lexicon, Match, PhraseIndex, overlaps_resolved
from processors.enrich.text import Keyed, is_letter

_SURNAME_MIN = 3


class EntityFinder:
    def __init__(self, config: EntitiesConfig, gazetteer: PlaceGazetteer, lexicon: Lexicon | None = None) -> None:
        lexicon = lexicon or Lexicon()
        self._places: PhraseIndex[str] = PhraseIndex(lexicon)
        for key in gazetteer.candidates:
            self._places.add(key, key)
        self._places.build()
        self._curated = gazetteer.curated_keys
        self._genitive_nouns = gazetteer.genitive_nouns
        self._country_keys: dict[str, str] = {
            key: entries[0].country_code
            for key, entries in gazetteer.candidates.items()
            if entries and entries[0].kind == "country" and entries[0].country_code
        }
        self._demonyms: PhraseIndex[str] = PhraseIndex(lexicon)
        for code, adjectives in gazetteer.demonyms.items():
            for adjective in adjectives:
                forms = [adjective + ending for ending in ("", "ة", "ين", "ون", "ان", "تين", "تان")]
                self._demonyms.add_all(forms + ["ال" + form for form in forms], code)
        self._demonyms.build()
        self._known: PhraseIndex[Literal["PER", "ORG"]] = PhraseIndex(lexicon)
        self._known.add_all(config.known_people, "PER")
        self._known.add_all(config.known_orgs, "ORG")
        self._known.build()
        self._reader = CueReader(config, gazetteer, self._demonyms, lexicon)

    def find(self, keyed: Keyed) -> tuple[list[EntitySpan], set[str], set[str]]:
        """Entity spans of one field, the countries it names (also inside organisations) and by adjective."""
        key = keyed.key
        words = Words(key, keyed)
        places = [m for m in self._places.find(key) if self._is_place(words, m)]
        countries = {self._country_keys[phrase] for _, _, phrase, _ in places if phrase in self._country_keys}
        demonyms = self._demonyms.find(key)
        fixed = [self._reader.place_span(words, m) for m in places]
        fixed += [new_span(EntitySpan, (v[0], start, end, 3, None)) for start, end, _, v in self._known.find(key)]
        ruled = self._reader.read(words, keyed, fixed, {start for start, _, _, _ in demonyms})
        chosen = select(fixed + ruled)
        surnames = self._surnames(words, chosen)
        if surnames:
            chosen = select(chosen + surnames)
        return chosen, countries, {values[0] for _, _, _, values in demonyms}

    def _is_place(self, words: Words, match: Match[str]) -> bool:
        """Drop packaged names glued to a clitic (ورقة is not و + الرقة) and curated nouns used as nouns."""
        start, end, phrase, _ = match
        short = len(phrase) < 4 and phrase not in self._curated and phrase[:2] != "ال"
        if short and words.tokens.word_start(start) < start:  # glued to a proclitic
            return False
        if phrase in self._genitive_nouns:
            following = words.key[end : end + 4].lstrip()
            return following[:2] != "ال"
        return True

    def _surnames(self, words: Words, chosen: list[EntitySpan]) -> list[EntitySpan]:
        """Standalone mentions of the last name of a person named in full elsewhere in the field."""
        surnames = set()
        for kind, start, end, _, _ in chosen:
            if kind == "PER":
                parts = words.key[start:end].split()
                if len(parts) >= 2 and len(parts[-1]) >= _SURNAME_MIN:
                    surnames.add(parts[-1])
        found: list[EntitySpan] = []
        surnames = {name for name in surnames if _twice(words.key, name)}  # named again somewhere?
        if not surnames:
            return found
        forms = surnames | {clitic + name for name in surnames for clitic in "وفبل"}
        for index in compress(count(), map(forms.__contains__, words.words)):  # the words that may be one
            word = words.words[index]
            bare = word[1:] if word[:1] in "وفبل" and word[1:] in surnames else word
            if bare in surnames and not (words.marked and "ى" in words.original(index)):  # على is not علي
                end = words.ends[index]
                start = end - len(bare)
                if start == 0 or not is_letter(words.key[start - 1]) or bare != word:
                    found.append(new_span(EntitySpan, ("PER", start, end, 0, None)))
        return found


def _twice(key: str, name: str) -> bool:
    """``key.count(name) > 1``, without reading the key past the second occurrence."""
    first = key.find(name)
    return first >= 0 and key.find(name, first + len(name)) >= 0


def select(spans: list[EntitySpan]) -> list[EntitySpan]:
    """Longest spans first; on equal length the higher priority (fixed vocabularies over cue rules)."""
    return overlaps_resolved(spans, 1, 2, _rank)  # EntitySpan.start, EntitySpan.end


def _rank(span: EntitySpan) -> tuple[int, int, int]:
    return span.start - span.end, -span.priority, span.start
