"""Against a real Elasticsearch (AKHBAR_ELASTICSEARCH_URL, e.g. the compose stack): index, fold, search."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from pipeline.search import SearchQuery
from pipeline.settings import load_settings
from pipeline.sinks.elasticsearch import ElasticsearchSink, make_client
from pipeline.sinks.elasticsearch_search import search_elasticsearch
from tests.unit.pipeline.sinks.factory import make_article

pytestmark = [
    pytest.mark.elasticsearch,
    pytest.mark.skipif(
        not os.environ.get("AKHBAR_ELASTICSEARCH_URL"),
        reason="needs a real Elasticsearch: set AKHBAR_ELASTICSEARCH_URL (e.g. the compose stack)",
    ),
]


def test_index_fold_and_search_on_a_real_cluster() -> None:
    alias = f"akhbar-test-{uuid.uuid4().hex[:8]}"
    settings = load_settings(elasticsearch_alias=alias)
    original = make_article(f"https://a.com/{alias}", title="قصف على غزة", source="a")
    duplicate = make_article(
        f"https://b.com/{alias}", source="b", dedup={"status": "duplicate", "duplicate_of": original.id}
    )

    async def main() -> None:
        sink = ElasticsearchSink(settings)
        client = make_client(settings)
        try:
            await sink.open()
            assert await sink.write([original, duplicate]) == []
            assert await sink.write([original, duplicate]) == []  # redelivery changes nothing
            await client.indices.refresh(index=alias)
            result = await search_elasticsearch(settings, SearchQuery(text="بغزة"))
            assert result.total == 1
            assert result.hits[0].reported_count == 2
            assert ("غزة", True) in result.hits[0].title_highlight
        finally:
            # destructive_requires_name (default since 8.0) refuses wildcard deletes: name each index
            for name in await client.indices.get(index=f"{alias}-*"):
                await client.indices.delete(index=name)
            await client.indices.delete_index_template(name=alias)
            await client.close()
            await sink.close()

    asyncio.run(main())
