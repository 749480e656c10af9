"""Replay: re-process raw articles (after an extractor or gazetteer improves) from the archive or the raw topic.

Idempotent by construction: a replayed article keeps its id (sha256 of the canonical URL), the dedup stage
returns the decision it made the first time for that id, and the sink upserts by id, so a replay updates
documents in place and adds none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.archive import read_archive
from processors.records import TOPIC_RAW, RawArticle

IDLE_SECONDS = 3.0


def archived(directory: Path, since: date | None, until: date | None, sources: set[str]) -> Iterator[RawArticle]:
    return read_archive(directory, since=since, until=until, sources=sources or None)


def topic_values(bootstrap: str, topic: str) -> list[bytes]:
    """Every message value now on ``topic``, read up to an idle gap (Tansu's end offsets cannot be trusted,
    NOTES §1); read whole before anything is republished, so what is added is not read back."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=int(IDLE_SECONDS * 1000))  # fmt: skip
    try:
        partitions = consumer.partitions_for_topic(topic) or {0}
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        return [message.value for message in consumer]
    finally:
        consumer.close()


def from_topic(bootstrap: str, sources: set[str]) -> list[RawArticle]:
    """Every valid raw article now on news.raw.v1 (of ``sources``, when given)."""
    records = []
    for value in topic_values(bootstrap, TOPIC_RAW):
        try:
            raw = RawArticle.model_validate_json(value)
        except ValueError:
            continue  # poison messages were dead-lettered the first time: not replayed
        if not sources or raw.source in sources:
            records.append(raw)
    return records


def republish(bootstrap: str, records: Iterable[RawArticle], progress_every: int = 1000,
              compression_type: str | None = None) -> int:  # fmt: skip
    """Publish ``records`` to news.raw.v1 keyed by id (acks=all, idempotent producer); returns the count."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
                             compression_type=compression_type)  # fmt: skip
    sent = 0
    started = time.monotonic()
    try:
        for raw in records:
            producer.send(TOPIC_RAW, key=raw.id.encode(), value=raw.to_json())
            sent += 1
            if sent % progress_every == 0:
                producer.flush(60)
                print(f"replay: {sent} sent ({sent / (time.monotonic() - started):.0f}/s)", flush=True)
        producer.flush(60)
    finally:
        producer.close(timeout=10)
    return sent
