"""Enrichment: event types (multi-label) from the trigger taxonomy in config/gazetteers/events.yaml."""

from __future__ import annotations

from typing import NamedTuple

from processors.enrich.config import EventsConfig
from processors.enrich.matching import Lexicon, PhraseIndex, tokenize
from processors.enrich.text import strip_clitics
from processors.normalize import normalize_arabic

_PUNCTUATION = ".,:;!?\"'()،؛؟«»"


class EventSpan(NamedTuple):
    type: str
    start: int  # key offsets
    end: int
    weak: bool


class EventExtractor:
    def __init__(self, config: EventsConfig, lexicon: Lexicon | None = None) -> None:
        self._index: PhraseIndex[tuple[str, bool]] = PhraseIndex(lexicon)
        self._not_after: dict[str, set[str]] = {}
        self._not_before: dict[str, set[str]] = {}
        self._yields_to: dict[str, set[str]] = {}
        for name, event_type in config.event_types.items():
            self._index.add_all(event_type.triggers, (name, False))
            self._index.add_all(event_type.weak_triggers, (name, True))
            self._not_after[name] = {normalize_arabic(w) for w in event_type.not_after}
            self._not_before[name] = {normalize_arabic(w) for w in event_type.not_before}
            self._yields_to[name] = set(event_type.yields_to)
        self._index.build()
        self.types = list(config.event_types)

    def find(self, key: str) -> list[EventSpan]:
        """Trigger mentions in one field key (weak ones are settled per article by ``settle``)."""
        found: list[EventSpan] = []
        matches = self._index.find(key)
        if not matches:
            return found
        words = tokenize(key)
        not_after, not_before = self._not_after, self._not_before
        for start, end, _, values in matches:
            # The words around a trigger are read only for a type with cancel words (most types have none).
            previous: set[str] | None = None
            following: set[str] | None = None
            for name, weak in dict.fromkeys(values):
                if not_after[name]:
                    if previous is None:
                        previous = _previous_words(key, words.word_start(start), 3)
                    if previous & not_after[name]:
                        continue
                if not_before[name]:
                    if following is None:
                        following = _following_words(key, end, 2)
                    if following & not_before[name]:
                        continue
                found.append(tuple.__new__(EventSpan, (name, start, end, weak)))  # EventSpan(...), no frame
        return found

    def settle(self, spans: list[EventSpan]) -> list[EventSpan]:
        """Drop weak triggers of a type when a type it yields to is present in the article."""
        strong = {s.type for s in spans if not s.weak}
        return [s for s in spans if not s.weak or not (self._yields_to[s.type] & strong)]


def _previous_words(key: str, start: int, count: int) -> set[str]:
    """The ``count`` words before the word starting at ``start``, with and without their proclitics."""
    return _with_bare_forms(key[max(0, start - 60) : start].split()[-count:])


def _following_words(key: str, end: int, count: int) -> set[str]:
    """The ``count`` words after a trigger ending at ``end`` (اشتباك لفظي, زيارة تفقدية), also without clitics."""
    return _with_bare_forms([word.strip(_PUNCTUATION) for word in key[end : end + 40].split()[:count]])


def _with_bare_forms(words: list[str]) -> set[str]:
    """``words`` as they are and without their proclitics (ولفظي → لفظي), for the cancel-word lists."""
    forms = set(words)
    forms.update(map(strip_clitics, words))
    return forms
