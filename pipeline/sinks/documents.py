"""Index documents: one enriched article as the flat document both backends store (the mapping's shape).

Entities become flat keyword arrays per type (Kibana cannot aggregate nested fields); places keep their
coordinates as ``location`` objects; strings are cut below Lucene's 32,766-byte term limit.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic_core import to_json

from processors.normalize import normalize_arabic
from processors.records import EnrichedArticle, ReportedBy

MAX_TEXT_CHARS = 200_000  # body text kept in the index (beyond this, ``truncated`` is set)
MAX_KEYWORD_CHARS = 1024  # a keyword value: ≤ 4 KB in UTF-8, far under Lucene's 32,766-byte term limit
MAX_URL_CHARS = 8191  # 8191 × 4 bytes < 32,766
_VOLATILE = ("reported_by", "reported_count", "outlet_count", "indexed_at", "content_hash")


def is_duplicate(article: EnrichedArticle) -> bool:
    """True when the article should be folded into its original's ``reported_by``."""
    duplicate_of = article.dedup.duplicate_of
    return article.dedup.status in ("duplicate", "near_duplicate") and duplicate_of not in (None, "", article.id)


def reported_entry(article: EnrichedArticle) -> dict[str, Any]:
    """The ``reported_by`` entry a duplicate adds to its original."""
    entry = ReportedBy(id=article.id, source=article.source, url=article.url, published_at=article.published_at)
    return entry.model_dump(mode="json")


def merge_reported(existing: list[dict[str, Any]], new: list[dict[str, Any]], own_id: str) -> list[dict]:
    """Union by article id, first occurrence kept, never the original itself (redelivery adds nothing)."""
    seen = {own_id}
    merged = []
    for entry in [*existing, *new]:
        if entry.get("id") not in seen:
            seen.add(entry["id"])
            merged.append(entry)
    return merged


# names and labels repeat from article to article; normalising each afresh was a fifth of building a document
_key = lru_cache(maxsize=65_536)(normalize_arabic)


def _cut(value: str, limit: int = MAX_KEYWORD_CHARS) -> str:
    return value if len(value) <= limit else value[:limit]


def _unique(values: list[str]) -> list[str]:
    """Distinct values in first-seen order, variants of one normalised key folded together."""
    seen: dict[str, str] = {}
    for value in values:
        value = _cut(value.strip())
        if value:
            seen.setdefault(_key(value), value)
    return list(seen.values())


def _entities(article: EnrichedArticle, kind: str) -> list[str]:
    return _unique([e.text for e in article.entities if e.type == kind])


def _places(article: EnrichedArticle) -> list[dict[str, Any]]:
    places = []
    for place in article.places:
        item: dict[str, Any] = {
            "name": _cut(place.name),
            "name_en": _cut(place.name_en) if place.name_en else None,
            "country_code": place.country_code,
            "admin1": _cut(place.admin1) if place.admin1 else None,
            "geonames_id": place.geonames_id,
            "kind": place.kind,
        }
        if place.lat is not None and place.lon is not None and -90 <= place.lat <= 90 and -180 <= place.lon <= 180:
            item["location"] = {"lat": place.lat, "lon": place.lon}
        places.append(item)
    return places


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


# dumped in one pydantic call (a call per entity, event and date was a tenth of building a document)
_NESTED = {"dedup", "casualties", "entities", "events", "dates", "reported_by"}


def to_document(article: EnrichedArticle, indexed_at: datetime | None = None) -> dict[str, Any]:
    """The stored document; ``reported_by`` holds the article's own list (the sink merges stored entries)."""
    text = article.text
    places = _places(article)
    nested = article.model_dump(mode="json", include=_NESTED)
    reported = merge_reported([], nested["reported_by"], article.id)
    return {
        "id": article.id,
        "url": _cut(article.url, MAX_URL_CHARS),
        "source": _cut(article.source, 256),
        "source_name": _cut(article.source_name) if article.source_name else None,
        "source_country": article.source_country,
        "title": article.title,
        "text": text[:MAX_TEXT_CHARS],
        "language": article.language,
        "language_score": article.language_score,
        "published_at": _iso(article.published_at),
        "published_at_method": article.published_at_method,
        "ingested_at": _iso(article.fetched_at),
        "enriched_at": _iso(article.enriched_at),
        "indexed_at": _iso(indexed_at or datetime.now(UTC)),
        "authors": _unique(article.authors),
        "image": _cut(article.image, MAX_URL_CHARS) if article.image else None,
        "extraction_method": article.extraction_method,
        "text_hash": article.text_hash,
        "truncated": article.truncated or len(text) > MAX_TEXT_CHARS,
        "warnings": _unique(article.warnings),
        "dedup": nested["dedup"],
        "cluster_id": article.dedup.cluster_id,
        "persons": _entities(article, "PER"),
        "organizations": _entities(article, "ORG"),
        "locations": _entities(article, "LOC"),
        "places": places,
        "country_codes": sorted({p["country_code"] for p in places if p["country_code"]}),
        "event_types": _unique([e.type for e in article.events]),
        "casualties": nested["casualties"],
        "reported_by": reported,
        "reported_count": 1 + len(reported),
        "outlet_count": len({article.source, *(r["source"] for r in reported)}),
        "entities": nested["entities"],
        "events": nested["events"],
        "dates": nested["dates"],
    }


def content_hash(document: dict[str, Any]) -> str:
    """sha256 of what an article says (not who else reported it, nor when it was indexed)."""
    return hashlib.sha256(stable_json(document)).hexdigest()


def stable_json(document: dict[str, Any]) -> bytes:
    """JSON of the fields ``content_hash`` covers (all but who else reported it and when it was indexed)."""
    return to_json({k: v for k, v in document.items() if k not in _VOLATILE})


def volatile_json(document: dict[str, Any]) -> bytes:
    """JSON of the fields ``stable_json`` leaves out."""
    return to_json({k: document[k] for k in _VOLATILE if k in document})


def with_reported(document: dict[str, Any], reported: list[dict[str, Any]]) -> dict[str, Any]:
    """``document`` with ``reported_by`` replaced and its counts recomputed."""
    document = {**document, "reported_by": reported, "reported_count": 1 + len(reported)}
    document["outlet_count"] = len({document["source"], *(r["source"] for r in reported)})
    return document
