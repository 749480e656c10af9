"""Connectors: publish raw articles to news.raw.v1 with kafka-python (acks=all, idempotent producer).

kafka-python blocks, so every call runs in a worker thread and the event loop keeps polling. A batch is
retried with backoff; if it still fails, ``PublishError`` tells the runner, which keeps the articles unseen
(and the feed's validators unchanged) so the next poll offers them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from processors.records import TOPIC_RAW, RawArticle

log = logging.getLogger(__name__)


class PublishError(Exception):
    """Articles could not be published after every retry."""


class KafkaPublisher:
    """One idempotent producer per process; ``publish`` is a coroutine that never blocks the loop."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = TOPIC_RAW,
        attempts: int = 3,
        backoff: float = 0.5,
        send_timeout: float = 30.0,
        **producer_options: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.attempts = attempts
        self.backoff = backoff
        self.send_timeout = send_timeout
        self.options = {
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 5,
            "max_request_size": 8 * 1024 * 1024,
            "request_timeout_ms": int(send_timeout * 1000),
            **producer_options,
        }
        self._producer: KafkaProducer | None = None

    def _ensure(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap.split(","), **self.options)
        return self._producer

    def _send_batch(self, articles: Sequence[RawArticle]) -> None:
        producer = self._ensure()
        futures = [producer.send(self.topic, key=a.id.encode("utf-8"), value=a.to_json()) for a in articles]
        producer.flush(timeout=self.send_timeout)
        for future in futures:
            future.get(timeout=self.send_timeout)

    async def publish(self, articles: Sequence[RawArticle]) -> None:
        """Publish ``articles`` (all or raise ``PublishError``); redelivery is possible, loss is not."""
        if not articles:
            return
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                await asyncio.to_thread(self._send_batch, articles)
                return
            except (KafkaError, OSError) as exc:
                # A producer whose broker restarted (Tansu: memory-only) keeps a producer id the new broker never
                # issued and fails every InitProducerId from then on: start the next attempt with a fresh one.
                await self._discard()
                if attempt == self.attempts:
                    raise PublishError(f"{type(exc).__name__}: {exc}") from exc
                log.warning("publish attempt %d failed (%s); retrying in %.1fs", attempt, exc, delay)
                await asyncio.sleep(delay)
                delay *= 2

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(producer.close, 10)

    async def _discard(self) -> None:
        """Drop the producer without waiting for what it still holds (those articles are published again)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(producer.close, 0)
