"""Faust app: the app, its topics and its tables, built from settings at start-up (nothing at import time).

Messages travel as raw bytes (``value_serializer="raw"``) and each agent parses them into the topic's typed
record itself, so a poison message becomes a dead letter instead of a Faust deserialisation crash.
Settings follow the shared NOTES §1–2: short session timeouts (Tansu holds a group join for half of it),
at-least-once (Tansu rejects aiokafka's idempotent producer), the web server off or bound to loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from pipeline.settings import Settings
from pipeline.topics import CLUSTER_TABLE, DEDUP_TABLE
from processors.records import TOPIC_ARTICLES, TOPIC_DLQ, TOPIC_ENRICHED, TOPIC_RAW


@dataclass
class PipelineTopics:
    raw: faust.TopicT
    articles: faust.TopicT
    enriched: faust.TopicT
    dlq: faust.TopicT


def create_app(settings: Settings, bootstrap: str, replaceable_broker: bool = False) -> faust.App:
    """The Faust app. ``replaceable_broker``: an embedded broker that `akhbar run` restarts empty (a rotation),
    after which a table's changelog offsets start again from zero below what the worker has read: Faust's
    recovery consistency check would take that for lost data and crash the worker, dropping the state it holds
    (and then writes to the new changelogs)."""
    web: dict[str, Any] = {"web_enabled": False}
    if settings.web_port:
        web = {"web_enabled": True, "web_bind": "127.0.0.1", "web_port": settings.web_port}
    return faust.App(
        settings.worker_id,
        broker=",".join(f"kafka://{host}" for host in bootstrap.split(",")),
        store=settings.table_store,
        datadir=str(settings.data_dir / "faust"),
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_request_timeout=max(40.0, settings.session_timeout * 2),
        consumer_auto_offset_reset="earliest",
        recovery_consistency_check=not replaceable_broker,
        topic_replication_factor=1,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        producer_acks=-1,
        # Tansu's cost is per request: batch the sends (and the table changelogs) instead of one per message.
        producer_linger_ms=5,
        # Tansu keeps every message in memory for good (no retention): zstd halves its memory per article.
        producer_compression_type=settings.compression_type,
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=4 * 1024 * 1024,
        worker_redirect_stdouts=False,
        autodiscover=False,
        **web,
    )


def declare_topics(app: faust.App, settings: Settings) -> PipelineTopics:
    def topic(name: str, partitions: int) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw",
                         key_serializer="raw", partitions=partitions)  # fmt: skip

    return PipelineTopics(
        raw=topic(TOPIC_RAW, settings.raw_partitions),
        articles=topic(TOPIC_ARTICLES, settings.topic_partitions),
        enriched=topic(TOPIC_ENRICHED, settings.topic_partitions),
        dlq=topic(TOPIC_DLQ, 1),
    )


def declare_tables(app: faust.App, settings: Settings) -> tuple[Any, Any]:
    """Dedup state (co-partitioned with news.raw.v1) and story clusters (with news.articles.v1)."""
    dedup = app.Table(DEDUP_TABLE, default=None, partitions=settings.raw_partitions)
    clusters = app.Table(CLUSTER_TABLE, default=None, partitions=settings.topic_partitions)
    return dedup, clusters
