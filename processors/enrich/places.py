"""Enrichment: resolve LOC mentions to places, using the article's context to pick among homonyms.

Score of a candidate: curated supplement, kind (a country beats a town of the same name), the outlet's
country, countries named in the article, nearness to places already resolved unambiguously, population.
"""

from __future__ import annotations

import math

from processors.enrich.gazetteer import PlaceEntry, PlaceGazetteer, distance_km
from processors.records import Place

_KIND_BONUS = {"country": 2.0, "admin1": 0.6, "region": 0.8, "city": 1.0, "site": 0.9}
_ADMIN_CUES = {"محافظه", "ولايه", "اقليم", "منطقه"}


def _near_any(anchors: list[tuple[float, float, PlaceEntry]], entry: PlaceEntry) -> bool:
    """Whether ``entry`` is within ~150 km of one of the (lat, lon, anchor) unambiguous cities or sites other
    than itself (a cheap box test first, inline: a hot loop)."""
    lat, lon = entry.lat, entry.lon
    for anchor_lat, anchor_lon, anchor in anchors:
        boxed = abs(anchor_lat - lat) <= 1.4 and abs(anchor_lon - lon) <= 1.8
        if boxed and anchor is not entry and distance_km(anchor, entry) < 150:
            return True
    return False


class PlaceResolver:
    def __init__(self, gazetteer: PlaceGazetteer) -> None:
        self._gazetteer = gazetteer
        self._records: dict[PlaceEntry, dict] = {}

    def candidates(self, key: str) -> tuple[PlaceEntry, ...]:
        return self._gazetteer.candidates.get(key) or self._gazetteer.cue_only.get(key, ())

    def resolve_all(
        self,
        mentions: list[tuple[str, str]],
        source_country: str | None,
        countries: set[str],
        adjectives: set[str],
    ) -> dict[str, PlaceEntry]:
        """Resolve (key, cue word before it) mentions of one article; returns key → chosen entry.

        ``countries`` are named in the article, ``adjectives`` described by nationality adjectives.
        """
        context = set(countries)
        anchors: list[PlaceEntry] = []
        candidates = {key: self.candidates(key) for key, _ in mentions}
        for options in candidates.values():
            if len(options) == 1:
                if options[0].kind in ("city", "site"):
                    anchors.append(options[0])
                context.add(options[0].country_code or "")
            elif options and all(o.country_code == options[0].country_code for o in options):
                context.add(options[0].country_code or "")
        boxes = [(a.lat, a.lon, a) for a in anchors]
        chosen: dict[str, PlaceEntry] = {}
        for key, cue in mentions:
            options = candidates[key]
            if len(options) == 1:
                chosen[key] = options[0]
            elif options and key not in chosen:
                # max(options, key=score): the first of the best
                scores = [self._score(o, cue, context, adjectives, source_country, boxes) for o in options]
                chosen[key] = options[scores.index(max(scores))]
        return chosen

    @staticmethod
    def _score(
        entry: PlaceEntry,
        cue: str,
        context: set[str],
        adjectives: set[str],
        source: str | None,
        anchors: list[tuple[float, float, PlaceEntry]],
    ) -> float:
        # A curated entry stands for a well-known place: it gets about the bonus a city of ~1M would.
        score = _KIND_BONUS.get(entry.kind, 0.5) + (4.0 if entry.curated else 0.0)
        if entry.kind == "admin1" and cue in _ADMIN_CUES:
            score += 3.0
        if entry.country_code and entry.country_code in context:
            score += 3.0
        elif entry.country_code and entry.country_code in adjectives:
            score += 1.5
        if entry.country_code and entry.country_code == source:
            score += 2.5
        if anchors and _near_any(anchors, entry):
            score += 1.5
        return score + math.log10(entry.population + 1) / 3

    def to_record(self, entry: PlaceEntry) -> Place:
        return Place(**self.record(entry))

    def record(self, entry: PlaceEntry) -> dict:
        """The fields of the ``Place`` of ``entry`` (computed once per entry; the caller must not change them)."""
        fields = self._records.get(entry)
        if fields is None:
            fields = self._records[entry] = {
                "name": entry.name,
                "name_en": entry.name_en,
                "country_code": entry.country_code,
                "admin1": self._gazetteer.nearest_admin1(entry),
                "lat": round(entry.lat, 5),
                "lon": round(entry.lon, 5),
                "geonames_id": entry.geonames_id,
                "kind": entry.kind,
            }
        return fields
