"""Shared fixtures for the enrichment tests: one Enricher per session (building it reads ~60 MB of data)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from processors.enrich import Enricher
from processors.records import Article, EnrichedArticle

PUBLISHED = datetime(2024, 11, 13, 9, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    return Enricher()


def make_article(text: str, title: str = "", source_country: str | None = None) -> Article:
    return Article(
        id="0" * 64,
        url="https://example.org/a",
        source="test",
        source_country=source_country,
        title=title,
        text=text,
        language="ar",
        published_at=PUBLISHED,
        published_at_method="feed",
        fetched_at=PUBLISHED,
        extraction_method="text",
        text_hash="1" * 64,
    )


@pytest.fixture(scope="session")
def enrich(enricher: Enricher) -> Callable[..., EnrichedArticle]:
    def run(text: str, title: str = "", source_country: str | None = None) -> EnrichedArticle:
        return enricher.enrich(make_article(text, title, source_country))

    return run
