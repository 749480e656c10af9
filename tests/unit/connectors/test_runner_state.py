"""Polling one source: health and unhealthy marking, backoff with Retry-After, adaptive intervals, state files."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from connectors.config import RssSource
from connectors.runner import build_connector, poll_once, schedule_next
from connectors.schedule import backoff_delay, next_interval
from connectors.state import SEEN_LIMIT, UNHEALTHY_AFTER, SourceState, StateStore
from processors.metrics import Counters
from processors.records import RawArticle
from tests.unit.connectors.conftest import FeedServer, Reply, make_context


class ListPublisher:
    def __init__(self) -> None:
        self.published: list[RawArticle] = []

    async def publish(self, articles: list[RawArticle]) -> None:
        self.published.extend(articles)

    async def close(self) -> None:
        return None


def rss(url: str, interval: float = 60) -> RssSource:
    return RssSource.model_validate(
        {"id": "s", "name": "s", "type": "rss", "url": url, "interval": interval, "allow_private": True}
    )


def poll_times(source: RssSource, times: int) -> tuple[SourceState, list[float], Counters]:
    counters = Counters("t")
    publisher = ListPublisher()

    async def run() -> tuple[SourceState, list[float]]:
        ctx = make_context()
        delays = []
        try:
            connector = build_connector(source, ctx)
            for _ in range(times):
                report, retry_after = await poll_once(source, connector, ctx.state, publisher, counters)
                delays.append(schedule_next(source, ctx.state, report, retry_after))
        finally:
            await ctx.fetcher.close()
        return ctx.state, delays

    state, delays = asyncio.run(run())
    return state, delays, counters


def test_failing_source_is_marked_unhealthy_and_still_polled(feed_server: FeedServer) -> None:
    url = feed_server.route("/gone", Reply(b"gone", status=500))
    state, delays, counters = poll_times(rss(url), UNHEALTHY_AFTER + 1)
    assert state.health.status == "unhealthy" and state.health.unhealthy_since is not None
    assert state.health.consecutive_failures == UNHEALTHY_AFTER + 1
    assert "HTTP 500" in (state.health.last_error or "")
    assert counters.get("connector", "fetch_error") == UNHEALTHY_AFTER + 1
    assert feed_server.hits["/gone"] == UNHEALTHY_AFTER + 1
    assert delays[-1] > delays[0], "backoff grows"


def test_recovery_clears_unhealthy(feed_server: FeedServer) -> None:
    calls = {"n": 0}

    def flaky(_headers: dict[str, str]) -> Reply:
        calls["n"] += 1
        if calls["n"] <= UNHEALTHY_AFTER:
            return Reply(status=503)
        return Reply(feed_server.fixture("rss_utf8.xml"))

    url = feed_server.route("/flaky", flaky)
    state, _, counters = poll_times(rss(url), UNHEALTHY_AFTER + 1)
    assert state.health.status == "ok" and state.health.consecutive_failures == 0
    assert counters.get("connector", "published") == 3


def test_retry_after_sets_the_next_poll(feed_server: FeedServer) -> None:
    url = feed_server.route("/busy", Reply(status=429, headers={"Retry-After": "3600"}))
    state, delays, _ = poll_times(rss(url, interval=5), 1)
    assert delays[0] >= 3600
    assert state.health.status == "failing"


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(60, n, rng=rng) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        ceiling = 60 * 2 ** (n - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(60, 40, rng=rng) <= 6 * 3600
    assert backoff_delay(60, 1, retry_after=900, rng=rng) == 900
    assert len({round(backoff_delay(60, 3), 6) for _ in range(20)}) > 1, "jittered"


def test_adaptive_interval_bounds() -> None:
    busy = 300.0
    for _ in range(10):
        busy = next_interval(300, busy, new_articles=5)
    assert busy == 75
    quiet = 300.0
    for _ in range(20):
        quiet = next_interval(300, quiet, new_articles=0)
    assert quiet == 1200


def test_state_round_trip_and_bounded_seen(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = store.get("a")
    for i in range(SEEN_LIMIT + 10):
        state.mark_seen(f"id{i}", 1.0)
    state.validators_for("https://x.example/feed").etag = '"e"'
    state.health.record_failure("boom", 5.0)
    store.mark_dirty("a")
    assert store.flush() == 1 and store.flush() == 0
    again = StateStore(tmp_path).get("a")
    assert len(again.seen) == SEEN_LIMIT and not again.is_seen("id0") and again.is_seen(f"id{SEEN_LIMIT + 9}")
    assert again.validators["https://x.example/feed"].etag == '"e"'
    assert again.health.status == "failing" and again.health.last_error == "boom"
    assert [s.source_id for s in StateStore(tmp_path).all_saved()] == ["a"]


def test_corrupt_state_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    state = StateStore(tmp_path).get("b")
    assert state.seen == {} and (tmp_path / "b.corrupt").exists()
    json.dumps(state.to_json())
