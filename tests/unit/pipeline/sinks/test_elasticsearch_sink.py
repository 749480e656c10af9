"""Elasticsearch sink request logic against a local server answering as Elasticsearch documents."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings
from pipeline.sinks.base import open_sink
from pipeline.sinks.elasticsearch import ElasticsearchSink, ensure_elasticsearch, index_template
from pipeline.sinks.es_bulk import Backoff
from processors.errors import TransientError
from tests.unit.pipeline.sinks.factory import make_article
from tests.unit.pipeline.sinks.fake_es import FakeElasticsearch, start

FAST = Backoff(attempts=3, initial=0.01, maximum=0.02)
ALIAS = "akhbar-articles"


def run_with_fake(
    body: Callable[[FakeElasticsearch, ElasticsearchSink], Awaitable[Any]], fake: FakeElasticsearch | None = None
) -> FakeElasticsearch:
    fake = fake or FakeElasticsearch()

    async def main() -> None:
        runner, url = await start(fake)
        sink = ElasticsearchSink(Settings(elasticsearch_url=url), backoff=FAST)
        try:
            await sink.open()
            await body(fake, sink)
        finally:
            await sink.close()
            await runner.cleanup()

    asyncio.run(main())
    return fake


def month_index(year: int, month: int) -> str:
    return f"{ALIAS}-{year}.{month:02d}"


def test_open_sink_picks_elasticsearch_when_configured() -> None:
    sink = open_sink(Settings(elasticsearch_url="http://127.0.0.1:9"))
    assert isinstance(sink, ElasticsearchSink)
    asyncio.run(sink.close())


def test_open_applies_template_and_first_index_idempotently() -> None:
    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        await sink.open()  # a second time: template replaced, existing index accepted

    fake = run_with_fake(body)
    assert fake.templates[ALIAS]["index_patterns"] == [f"{ALIAS}-*"]
    assert fake.templates[ALIAS]["template"]["aliases"] == {ALIAS: {}}
    assert f"{ALIAS}-{datetime.now(UTC):%Y.%m}" in fake.indices


def test_articles_land_in_their_month_with_the_article_id() -> None:
    articles = [
        make_article("https://a.com/1", published_at=datetime(2024, 11, 3, tzinfo=UTC)),
        make_article("https://a.com/2", published_at=datetime(2024, 12, 9, tzinfo=UTC)),
    ]

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        assert await sink.write(articles) == []

    fake = run_with_fake(body)
    assert list(fake.indices[month_index(2024, 11)]) == [articles[0].id]
    assert list(fake.indices[month_index(2024, 12)]) == [articles[1].id]
    stored = fake.indices[month_index(2024, 11)][articles[0].id]
    assert stored["places"][0]["location"] == {"lat": 35.33, "lon": 40.14}
    assert stored["reported_count"] == 1


def test_same_batch_twice_changes_nothing() -> None:
    articles = [make_article(f"https://a.com/{i}") for i in range(3)]
    snapshots = []

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        await sink.write(articles)
        snapshots.append(json.dumps(fake.indices, sort_keys=True))
        await sink.write(articles)
        snapshots.append(json.dumps(fake.indices, sort_keys=True))

    run_with_fake(body)
    assert snapshots[0] == snapshots[1]


def test_duplicates_fold_into_the_original_once_and_survive_its_redelivery() -> None:
    original = make_article("https://a.com/1", source="a")
    duplicate = make_article("https://b.com/1", source="b", dedup={"status": "duplicate", "duplicate_of": original.id})

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        await sink.write([duplicate, original])  # same batch: the original is planned first
        await sink.write([duplicate])
        await sink.write([original])

    fake = run_with_fake(body)
    docs = fake.documents(ALIAS)
    assert list(docs) == [original.id]
    assert [entry["id"] for entry in docs[original.id]["reported_by"]] == [duplicate.id]
    assert docs[original.id]["outlet_count"] == 2


def test_a_duplicate_whose_original_is_missing_is_kept_then_folded() -> None:
    original = make_article("https://a.com/1", source="a")
    duplicate = make_article(
        "https://b.com/1", source="b", dedup={"status": "near_duplicate", "duplicate_of": original.id}
    )
    seen: list[list[str]] = []

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        await sink.write([duplicate])
        seen.append(list(fake.documents(ALIAS)))
        await sink.write([original])

    fake = run_with_fake(body)
    assert seen == [[duplicate.id]]
    docs = fake.documents(ALIAS)
    assert list(docs) == [original.id]
    assert [entry["id"] for entry in docs[original.id]["reported_by"]] == [duplicate.id]


def test_an_article_keeps_its_index_when_its_date_moves() -> None:
    first = make_article("https://a.com/1", published_at=datetime(2024, 11, 30, tzinfo=UTC))
    moved = make_article("https://a.com/1", title="عنوان معدل", published_at=datetime(2024, 12, 1, tzinfo=UTC))

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        await sink.write([first])
        sink._placements.clear()  # a new worker: only the alias search can tell where the id lives
        await sink.write([moved])

    fake = run_with_fake(body)
    assert fake.indices[month_index(2024, 11)][first.id]["title"] == "عنوان معدل"
    assert first.id not in fake.indices.get(month_index(2024, 12), {})


def test_a_refused_item_is_rejected_and_the_rest_indexed() -> None:
    good, bad = make_article("https://a.com/ok"), make_article("https://a.com/bad")
    fake = FakeElasticsearch(item_failures={bad.id: deque([(400, "document_parsing_exception")])})
    rejections = []

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        rejections.extend(await sink.write([good, bad]))

    run_with_fake(body, fake)
    assert [r.article_id for r in rejections] == [bad.id]
    assert "400 document_parsing_exception" in rejections[0].reason
    assert json.loads(rejections[0].document)["id"] == bad.id
    assert list(fake.documents(ALIAS)) == [good.id]


def test_items_answered_429_or_503_are_retried() -> None:
    one, two = make_article("https://a.com/1"), make_article("https://a.com/2")
    fake = FakeElasticsearch(
        item_failures={
            one.id: deque([(429, "es_rejected_execution_exception")]),
            two.id: deque([(503, "unavailable_shards_exception")]),
        }
    )

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        assert await sink.write([one, two]) == []

    run_with_fake(body, fake)
    assert sorted(fake.documents(ALIAS)) == sorted([one.id, two.id])
    assert fake.bulk_requests == 2


def test_whole_request_429_and_503_are_retried_with_backoff() -> None:
    article = make_article()

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        fake.request_failures.extend([503, 429])  # the locate search fails twice, then all is well
        assert await sink.write([article]) == []

    fake = run_with_fake(body)
    assert list(fake.documents(ALIAS)) == [article.id]


def test_a_cluster_that_keeps_answering_503_raises_transient_error() -> None:
    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        fake.request_failures.extend([503] * 10)
        with pytest.raises(TransientError, match="503"):
            await sink.write([make_article()])
        fake.request_failures.clear()
        assert await sink.write([make_article()]) == []  # and the same batch goes through afterwards

    run_with_fake(body)


def test_items_that_stay_overloaded_raise_transient_error() -> None:
    article = make_article()
    fake = FakeElasticsearch(item_failures={article.id: deque([(429, "es_rejected_execution_exception")] * 5)})

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        with pytest.raises(TransientError, match="429"):
            await sink.write([article])

    run_with_fake(body, fake)


def test_connection_refused_raises_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there

    async def main() -> None:
        sink = ElasticsearchSink(Settings(elasticsearch_url=f"http://127.0.0.1:{port}"), backoff=FAST)
        try:
            with pytest.raises(TransientError, match="cannot reach"):
                await sink.write([make_article()])
            with pytest.raises(TransientError):
                await sink.open()
        finally:
            await sink.close()

    asyncio.run(main())


def test_a_missing_index_is_created_when_auto_create_is_off() -> None:
    fake = FakeElasticsearch(auto_create=False)
    article = make_article(published_at=datetime(2023, 5, 1, tzinfo=UTC))

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        assert await sink.write([article]) == []

    run_with_fake(body, fake)
    assert list(fake.indices[month_index(2023, 5)]) == [article.id]


def test_an_unencodable_article_is_rejected_before_any_request() -> None:
    bad = make_article("https://a.com/bad", title="نص \ud800")

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        requests = len(fake.log)
        rejections = await sink.write([bad])
        assert [r.article_id for r in rejections] == [bad.id]
        assert len(fake.log) == requests

    run_with_fake(body)


def test_ensure_elasticsearch_for_the_setup_job() -> None:
    fake = FakeElasticsearch()

    async def main() -> None:
        runner, url = await start(fake)
        try:
            await ensure_elasticsearch(Settings(elasticsearch_url=url, elasticsearch_alias="news"))
            await ensure_elasticsearch(Settings(elasticsearch_url=url, elasticsearch_alias="news"))
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert fake.templates["news"]["index_patterns"] == ["news-*"]
    assert any(name.startswith("news-") for name in fake.indices)


def test_template_file_in_config_matches_the_packaged_one() -> None:
    root = Path(__file__).resolve().parents[4]
    config = json.loads((root / "config/elasticsearch/akhbar-articles.index-template.json").read_text("utf-8"))
    assert config == index_template(ALIAS)


def test_serialized_messages_are_read_here_and_reported_by_position() -> None:
    good, bad = make_article("https://a.com/ok"), make_article("https://a.com/bad")
    fake = FakeElasticsearch(item_failures={bad.id: deque([(400, "document_parsing_exception")])})
    written = []

    async def body(fake: FakeElasticsearch, sink: ElasticsearchSink) -> None:
        written.append(await sink.write_serialized([good.to_json(), b"not json", bad.to_json()]))

    run_with_fake(body, fake)
    [result] = written
    assert result.ids == [good.id, None, bad.id] and [p for p, _ in result.unreadable] == [1]
    assert [r.article_id for r in result.rejections] == [bad.id]
    assert result.times == [(good.fetched_at.timestamp(), good.published_at.timestamp())]
    assert list(fake.documents(ALIAS)) == [good.id]
