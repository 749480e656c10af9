"""Test factory: enriched articles with sensible defaults (Arabic text, places, entities)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processors.records import Casualties, DedupInfo, EnrichedArticle, Entity, Event, Place
from processors.urls import article_id

SAMPLE_TEXT = (
    "شنت الطائرات الحربية الأمريكية غارات جديدة استهدفت مواقع تابعة للميليشيات الإيرانية في دير الزور، "
    "شرق سوريا. وأعلنت القيادة المركزية الأمريكية أنها نفذت هذه الضربات ضد مخازن أسلحة ومنشآت لوجستية."
)


def make_article(
    url: str = "https://example.com/news/1",
    *,
    title: str = "غارات أمريكية على مواقع في دير الزور",
    text: str = SAMPLE_TEXT,
    source: str = "aljazeera",
    published_at: datetime | None = None,
    places: list[dict[str, Any]] | None = None,
    persons: list[str] = (),  # type: ignore[assignment]
    organizations: list[str] = (),  # type: ignore[assignment]
    events: list[str] = (),  # type: ignore[assignment]
    killed: int | None = None,
    dedup: dict[str, Any] | None = None,
) -> EnrichedArticle:
    published = published_at or datetime(2024, 11, 14, 10, 0, tzinfo=UTC)
    entities = [Entity(text=p, type="PER", start=0, end=len(p)) for p in persons]
    entities += [Entity(text=o, type="ORG", start=0, end=len(o)) for o in organizations]
    default_places = [{"name": "دير الزور", "country_code": "SY", "lat": 35.33, "lon": 40.14, "kind": "city"}]
    return EnrichedArticle(
        id=article_id(url),
        url=url,
        source=source,
        source_name=source.title(),
        title=title,
        text=text,
        language="ar",
        published_at=published,
        published_at_method="feed",
        fetched_at=published,
        extraction_method="feed",
        text_hash="0" * 64,
        entities=entities,
        places=[Place(**p) for p in (default_places if places is None else places)],
        events=[Event(type=e, trigger=e, start=0, end=1) for e in events],
        casualties=Casualties(killed=killed),
        dedup=DedupInfo(**(dedup or {})),
    )
