"""Connectors: poll one source once (fetch → articles → publish → state), and the loop that repeats it.

Articles become "seen" and a feed's validators are stored only after the publish succeeded, so a publish
failure loses nothing: the next poll offers the same articles again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from connectors.base import Connector, ConnectorContext, PollReport
from connectors.common import AnySource
from connectors.http import FetchError
from connectors.publisher import PublishError
from connectors.rss import RssConnector
from connectors.schedule import backoff_delay, next_interval
from connectors.sitemap import SitemapConnector
from connectors.state import SourceState
from connectors.web import WebConnector
from processors.metrics import Counters
from processors.records import RawArticle

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, articles: Sequence[RawArticle]) -> None: ...

    async def close(self) -> None: ...


def build_connector(source: AnySource, ctx: ConnectorContext) -> Connector:
    """The connector of the source's ``type``."""
    if source.type == "rss":
        return RssConnector(source, ctx)
    if source.type == "web":
        return WebConnector(source, ctx)
    return SitemapConnector(source, ctx)


async def collect(connector: Connector, report: PollReport) -> tuple[list[RawArticle], float | None]:
    """Run one poll; return the new articles and a server's Retry-After (errors land in ``report``)."""
    articles: list[RawArticle] = []
    try:
        async for article in connector.poll(report):
            articles.append(article)
    except FetchError as exc:
        report.status = "error"
        report.http_status = exc.status or report.http_status
        report.errors.append(f"fetch {exc.kind}: {exc}")
        return articles, exc.retry_after
    except ValueError as exc:
        report.status = "error"
        report.errors.append(f"parse: {exc}")
    return articles, None


def commit(state: SourceState, report: PollReport, articles: Sequence[RawArticle], now: float) -> None:
    """After a successful publish: remember the ids and the validators."""
    for article in articles:
        state.mark_seen(article.id, now)
        alias = report.aliases.get(article.id)
        if alias:
            state.mark_seen(alias, now)
    if not report.incomplete:
        state.validators.update(report.validators)


async def poll_once(
    source: AnySource, connector: Connector, state: SourceState, publisher: Publisher, counters: Counters
) -> tuple[PollReport, float | None]:
    """Poll, publish and update health; return the report and any Retry-After."""
    report = PollReport(source=source.id)
    articles, retry_after = await collect(connector, report)
    now = time.time()
    if report.status != "error":
        try:
            await publisher.publish(articles)
            commit(state, report, articles, now)
            counters.inc("connector", "published", len(articles))
            state.health.published += len(articles)
        except PublishError as exc:
            report.status = "error"
            report.errors.append(f"publish: {exc}")
            counters.inc("connector", "publish_error")
    count_outcome(counters, report)
    update_health(state, report, now)
    return report, retry_after


def count_outcome(counters: Counters, report: PollReport) -> None:
    counters.inc("connector", "polled")
    counters.inc("connector", "entries", report.entries)
    if report.status == "not_modified":
        counters.inc("connector", "not_modified")
    elif report.status == "error" and not any(e.startswith("publish:") for e in report.errors):
        counters.inc("connector", "fetch_error")
    if report.status != "error" and report.errors:
        counters.inc("connector", "warnings", len(report.errors))


def update_health(state: SourceState, report: PollReport, now: float) -> None:
    health = state.health
    health.polls += 1
    health.last_poll = now
    health.last_problems = report.errors[:5]
    if report.status == "error":
        health.record_failure(report.errors[-1] if report.errors else "error", now)
        return
    health.record_success(now)
    if report.new_articles:
        health.last_new_article = now
    if report.status == "ok":
        health.last_entries = report.entries
        health.last_encoding = report.encoding or health.last_encoding
    health.last_modified = report.last_modified or health.last_modified


def health_gauge(source: AnySource, state: SourceState) -> dict[str, Any]:
    """The per-source health shown in the live status (``source.<id>``)."""
    h = state.health
    return {
        "name": source.name,
        "type": source.type,
        "status": h.status,
        "failures": h.consecutive_failures,
        "last_poll": h.last_poll,
        "last_success": h.last_success,
        "last_error": h.last_error,
        "entries": h.last_entries,
        "published": h.published,
        "interval": h.interval,
        "next_poll": h.next_poll,
    }


def schedule_next(source: AnySource, state: SourceState, report: PollReport, retry_after: float | None) -> float:
    """Seconds until the next poll (and record it in the state)."""
    health = state.health
    if report.status == "error":
        delay = backoff_delay(source.interval, health.consecutive_failures, retry_after)
    else:
        health.interval = next_interval(source.interval, health.interval, report.new_articles)
        delay = health.interval
    health.next_poll = time.time() + delay
    return delay


async def source_loop(
    source: AnySource,
    ctx: ConnectorContext,
    publisher: Publisher,
    counters: Counters,
    on_change: Callable[[str], None],
    initial_delay: float = 0.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Poll ``source`` until cancelled. ``on_change(source_id)`` marks its state for saving."""
    connector = build_connector(source, ctx)
    state = ctx.state
    counters.set(f"source.{source.id}", health_gauge(source, state))
    if initial_delay > 0:
        await sleep(initial_delay)
    while True:
        try:
            report, retry_after = await poll_once(source, connector, state, publisher, counters)
        except Exception as exc:  # a bug in one source must not end its loop silently: record and back off
            log.exception("source %s: unexpected error", source.id)
            report, retry_after = PollReport(source.id, status="error", errors=[f"internal: {exc!r}"]), None
            update_health(state, report, time.time())
        if report.errors:
            log.info("source %s: %s", source.id, "; ".join(report.errors[:3]))
        delay = schedule_next(source, state, report, retry_after)
        counters.set(f"source.{source.id}", health_gauge(source, state))
        on_change(source.id)
        await sleep(delay)
