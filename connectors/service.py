"""Connectors: the connector process — one task per enabled source, hot reload of feeds.yaml, live stats.

``run_connectors`` is the entry point ``akhbar run`` and ``akhbar connectors`` call. The file is validated at
start-up (a bad file raises ``ConfigError``); later edits are picked up within ``reload_every`` seconds:
added sources start, changed ones restart, disabled or removed ones stop. A later edit that does not
validate is reported (log, counter, gauge) and the running configuration stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from connectors.base import ConnectorContext
from connectors.common import AnySource
from connectors.config import FeedsFile, load_feeds
from connectors.http import HttpFetcher
from connectors.pages import PageFetcher
from connectors.publisher import KafkaPublisher
from connectors.runner import Publisher, health_gauge, source_loop
from connectors.state import StateStore
from processors.errors import ConfigError
from processors.metrics import Counters

log = logging.getLogger(__name__)


class ConnectorService:
    """Runs the sources of one feeds file against one publisher until stopped."""

    def __init__(
        self,
        *,
        feeds_path: Path,
        data_dir: Path,
        counters: Counters,
        publisher: Publisher,
        user_agent: str,
        reload_every: float = 2.0,
        stats_every: float = 1.0,
    ) -> None:
        self.feeds_path = feeds_path
        self.data_dir = data_dir
        self.counters = counters
        self.publisher = publisher
        self.user_agent = user_agent
        self.reload_every = reload_every
        self.stats_every = stats_every
        self.store = StateStore(data_dir / "connectors")
        self.feeds: FeedsFile = load_feeds(feeds_path)
        self._stamp = self._file_stamp()
        self._tasks: dict[str, tuple[AnySource, asyncio.Task[None]]] = {}
        self.fetcher: HttpFetcher | None = None
        self.pages: PageFetcher | None = None

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.feeds_path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _start(self, source: AnySource) -> None:
        assert self.fetcher is not None and self.pages is not None
        state = self.store.get(source.id)
        fingerprint = source.model_dump_json()
        delay = 0.0
        if state.extra.get("config") == fingerprint and state.health.next_poll:
            # Same source as before a restart: keep its schedule (politeness survives restarts).
            delay = min(max(state.health.next_poll - time.time(), 0.0), source.interval)
        state.extra["config"] = fingerprint
        ctx = ConnectorContext(fetcher=self.fetcher, pages=self.pages, state=state)
        task = asyncio.create_task(
            source_loop(source, ctx, self.publisher, self.counters, self.store.mark_dirty, delay),
            name=f"source:{source.id}",
        )
        self._tasks[source.id] = (source, task)

    async def _stop(self, source_id: str) -> None:
        _, task = self._tasks.pop(source_id)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def apply(self, feeds: FeedsFile) -> None:
        """Bring the running tasks in line with ``feeds`` (start, restart, stop)."""
        assert self.fetcher is not None
        self.fetcher.update_policy(feeds.fetch, self.user_agent)
        wanted = {s.id: s for s in feeds.sources if s.enabled}
        for source_id, (running, _) in list(self._tasks.items()):
            if wanted.get(source_id) != running:
                await self._stop(source_id)
        for source in feeds.sources:
            if not source.enabled:
                gauge = health_gauge(source, self.store.get(source.id)) | {"status": "disabled"}
                self.counters.set(f"source.{source.id}", gauge)
            elif source.id not in self._tasks:
                self._start(source)
        self.feeds = feeds

    async def reload_if_changed(self) -> bool:
        """Re-read the feeds file when it changed on disk; True when a new configuration was applied."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            feeds = load_feeds(self.feeds_path)
        except ConfigError as exc:
            log.error("feeds file not reloaded, keeping the running sources: %s", exc)
            self.counters.inc("connector", "config_error")
            self.counters.set("connector.config_error", str(exc))
            return False
        self.counters.set("connector.config_error", None)
        self.counters.inc("connector", "reloaded")
        await self.apply(feeds)
        log.info("feeds file reloaded: %d sources running", len(self._tasks))
        return True

    def write_stats(self) -> None:
        self.store.flush()
        self.counters.set("connector.sources_running", len(self._tasks))
        self.counters.write(self.data_dir / "stats")

    async def run(self, stop: asyncio.Event) -> None:
        self.fetcher = HttpFetcher(self.feeds.fetch, self.user_agent, observe=self.counters.observe)
        self.pages = PageFetcher(self.fetcher)
        try:
            await self.apply(self.feeds)
            last_reload = time.monotonic()
            while not stop.is_set():
                self.write_stats()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.stats_every)
                if time.monotonic() - last_reload >= self.reload_every:
                    last_reload = time.monotonic()
                    await self.reload_if_changed()
        finally:
            for source_id in list(self._tasks):
                await self._stop(source_id)
            self.write_stats()
            await self.fetcher.close()

    @property
    def running(self) -> dict[str, AnySource]:
        return {source_id: source for source_id, (source, _) in self._tasks.items()}


async def run_connectors(
    *,
    bootstrap: str,
    feeds_path: Path,
    data_dir: Path,
    counters: Counters,
    stop: asyncio.Event,
    user_agent: str,
    compression_type: str | None = None,
) -> None:
    """Poll every enabled source of ``feeds_path`` and publish new articles to news.raw.v1 until ``stop``."""
    publisher = KafkaPublisher(bootstrap, compression_type=compression_type)
    service = ConnectorService(
        feeds_path=feeds_path,
        data_dir=data_dir,
        counters=counters,
        publisher=publisher,
        user_agent=user_agent,
    )
    try:
        await service.run(stop)
    finally:
        await publisher.close()
