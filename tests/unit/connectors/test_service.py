"""The connector process against a real broker: publish once, keep state across restarts, hot reload."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition

from connectors.publisher import KafkaPublisher
from connectors.service import ConnectorService, run_connectors
from processors.metrics import Counters
from processors.records import RawArticle
from processors.urls import article_id
from tests.unit.connectors.conftest import FeedServer, Reply

pytestmark = pytest.mark.integration


def write_feeds(path: Path, sources: list[dict], **fetch: object) -> None:
    policy = {"timeout": 2.0, "min_delay": 0.0} | fetch
    path.write_text(yaml.safe_dump({"fetch": policy, "sources": sources}, allow_unicode=True), encoding="utf-8")


def rss_source(server: FeedServer, source_id: str, path: str, **extra: object) -> dict:
    return {
        "id": source_id,
        "name": f"اختبار {source_id}",
        "type": "rss",
        "url": server.url(path),
        "country": "sy",
        "interval": 1,
        "allow_private": True,
    } | extra


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    """Every message of every partition (assigned, not joined: group joins are slow on Tansu).

    The topic was auto-created by the first send, with the broker's default of several partitions.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=4000)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    try:
        return [(message.key, message.value) for message in consumer]
    finally:
        consumer.close()


async def run_for(service: ConnectorService, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5)


def test_publishes_each_article_once_with_key_and_survives_restart(
    kafka_bootstrap: str, unique_topic: str, feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.serve_file("/feed.xml", "rss_utf8.xml", "application/rss+xml", etag='"v1"')
    feeds = tmp_path / "feeds.yaml"
    write_feeds(feeds, [rss_source(feed_server, "utf8", "/feed.xml")])

    def service() -> ConnectorService:
        publisher = KafkaPublisher(kafka_bootstrap, topic=unique_topic)
        return ConnectorService(
            feeds_path=feeds,
            data_dir=tmp_path / "data",
            counters=Counters("connectors"),
            publisher=publisher,
            user_agent="akhbar-test/1.0",
        )

    first = service()
    asyncio.run(run_for(first, 2.5))
    asyncio.run(first.publisher.close())
    second = service()  # a restart: state comes back from data/connectors
    asyncio.run(run_for(second, 1.5))
    asyncio.run(second.publisher.close())

    messages = read_topic(kafka_bootstrap, unique_topic)
    assert len(messages) == 3
    for key, value in messages:
        article = RawArticle.model_validate_json(value)
        assert key == article.id.encode()
        assert article.id == article_id(article.url)
        assert "utm_source" not in article.url
        assert article.source == "utf8" and article.source_country == "SY"
        assert article.published_at is not None and article.published_at.tzinfo is not None
        assert article.feed_url == feed_server.url("/feed.xml")
    assert feed_server.hits["/feed.xml"] >= 3
    conditional = [h for p, h in feed_server.requests if p == "/feed.xml" and "if-none-match" in h]
    assert conditional, "later polls must be conditional"
    assert first.counters.get("connector", "published") == 3
    assert second.counters.get("connector", "published") == 0
    assert second.counters.get("connector", "not_modified") >= 1
    stats = json.loads((tmp_path / "data" / "stats" / "connectors.json").read_text())
    assert stats["gauges"]["source.utf8"]["status"] == "ok"


def test_run_connectors_entry_point(
    kafka_bootstrap: str, feed_server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = "test.entry." + str(time.monotonic_ns())
    made: list[KafkaPublisher] = []

    def publisher(bootstrap: str, **options: object) -> KafkaPublisher:
        made.append(KafkaPublisher(bootstrap, topic=topic, **options))
        return made[-1]

    monkeypatch.setattr("connectors.service.KafkaPublisher", publisher)
    feed_server.serve_file("/atom.xml", "atom_utf8.xml", "application/atom+xml")
    feeds = tmp_path / "feeds.yaml"
    write_feeds(feeds, [rss_source(feed_server, "atom", "/atom.xml")])
    counters = Counters("connectors")

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_connectors(
                bootstrap=kafka_bootstrap,
                feeds_path=feeds,
                data_dir=tmp_path / "data",
                counters=counters,
                stop=stop,
                user_agent="akhbar-test/1.0",
                compression_type="zstd",
            )
        )
        await asyncio.sleep(2)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    messages = read_topic(kafka_bootstrap, topic)
    assert len(messages) == 2  # published in zstd batches, read back whole
    assert made[0].options["compression_type"] == "zstd"
    assert counters.get("connector", "published") == 2
    assert any(h.get("user-agent") == "akhbar-test/1.0" for _, h in feed_server.requests)


def test_publish_failure_is_retried_and_surfaced(feed_server: FeedServer, tmp_path: Path) -> None:
    """A publisher that fails leaves the articles unseen; the next poll publishes them."""
    feed_server.serve_file("/feed.xml", "rss_utf8.xml", "application/rss+xml", etag='"v1"')
    feeds = tmp_path / "feeds.yaml"
    write_feeds(feeds, [rss_source(feed_server, "flaky", "/feed.xml")])

    class FlakyPublisher:
        def __init__(self) -> None:
            self.calls = 0
            self.published: list[RawArticle] = []

        async def publish(self, articles: list[RawArticle]) -> None:
            from connectors.publisher import PublishError

            self.calls += 1
            if self.calls == 1 and articles:
                raise PublishError("broker down")
            self.published.extend(articles)

        async def close(self) -> None:
            return None

    publisher = FlakyPublisher()
    counters = Counters("connectors")
    service = ConnectorService(
        feeds_path=feeds, data_dir=tmp_path, counters=counters, publisher=publisher, user_agent="t/1"
    )
    asyncio.run(run_for(service, 2.5))
    assert counters.get("connector", "publish_error") == 1
    assert len(publisher.published) == 3
    assert len({a.id for a in publisher.published}) == 3


def test_hot_reload_adds_changes_and_disables_sources(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.serve_file("/a.xml", "rss_utf8.xml", "application/rss+xml")
    feed_server.serve_file("/b.xml", "atom_utf8.xml", "application/atom+xml")
    feeds = tmp_path / "feeds.yaml"
    write_feeds(feeds, [rss_source(feed_server, "a", "/a.xml")])

    class ListPublisher:
        def __init__(self) -> None:
            self.published: list[RawArticle] = []

        async def publish(self, articles: list[RawArticle]) -> None:
            self.published.extend(articles)

        async def close(self) -> None:
            return None

    publisher = ListPublisher()
    service = ConnectorService(
        feeds_path=feeds,
        data_dir=tmp_path,
        counters=Counters("connectors"),
        publisher=publisher,
        user_agent="t/1",
        reload_every=0.2,
        stats_every=0.1,
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(0.5)
        assert set(service.running) == {"a"}
        write_feeds(feeds, [rss_source(feed_server, "a", "/a.xml"), rss_source(feed_server, "b", "/b.xml")])
        await asyncio.sleep(0.8)
        assert set(service.running) == {"a", "b"}
        before = service.running["a"]
        changed = rss_source(feed_server, "a", "/a.xml", interval=2)
        write_feeds(feeds, [changed, rss_source(feed_server, "b", "/b.xml")])
        await asyncio.sleep(0.8)
        assert service.running["a"] != before and service.running["a"].interval == 2, "changed source restarted"
        feeds.write_text("sources: [{id: a, type: rss}]\n", encoding="utf-8")  # invalid: keeps running
        await asyncio.sleep(0.5)
        assert set(service.running) == {"a", "b"}
        assert service.counters.get("connector", "config_error") == 1
        write_feeds(
            feeds,
            [rss_source(feed_server, "a", "/a.xml", enabled=False), rss_source(feed_server, "b", "/b.xml")],
        )
        await asyncio.sleep(0.8)
        assert set(service.running) == {"b"}
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert {a.source for a in publisher.published} == {"a", "b"}
    assert len(publisher.published) == 5


def test_reply_helper_serves_304(feed_server: FeedServer) -> None:
    """The fixture server itself answers conditional requests (the tests above rely on it)."""
    import urllib.request

    url = feed_server.route("/x", Reply(b"body", etag='"e"'))
    request = urllib.request.Request(url, headers={"If-None-Match": '"e"'})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=2)
    caught.value.close()
    assert caught.value.code == 304
