"""Topics: the versioned topics, their partition counts and retention, created idempotently before use.

Topics must exist before anything produces: a producer that auto-creates a topic gets the broker's default
partition count, and a Faust table then refuses its source topic (changelog partitions must match).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline.settings import Settings
from processors.errors import TransientError
from processors.records import TOPIC_ARTICLES, TOPIC_DLQ, TOPIC_ENRICHED, TOPIC_RAW

DAY_MS = 24 * 3600 * 1000
# The worker's Faust tables (pipeline/app.py); Faust names their changelogs "<app id>-<table>-changelog".
DEDUP_TABLE = "dedup-state"  # co-partitioned with news.raw.v1
CLUSTER_TABLE = "cluster-state"  # with news.articles.v1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int  # ignored when compacted
    compacted: bool = False

    def new_topic(self, replication: int) -> NewTopic:
        configs = {"cleanup.policy": "compact"} if self.compacted else {"retention.ms": str(self.retention_ms)}
        return NewTopic(self.name, num_partitions=self.partitions, replication_factor=replication,
                        topic_configs=configs)  # fmt: skip


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """The pipeline's topics. Raw keeps one partition by default: it is the deduplication stage (one owner)."""
    return [
        TopicSpec(TOPIC_RAW, settings.raw_partitions, 14 * DAY_MS),
        TopicSpec(TOPIC_ARTICLES, settings.topic_partitions, 7 * DAY_MS),
        TopicSpec(TOPIC_ENRICHED, settings.topic_partitions, 7 * DAY_MS),
        TopicSpec(TOPIC_DLQ, 1, 90 * DAY_MS),
    ]


def worker_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The Faust worker's own topics, as it declares them when it starts: its tables' changelogs (partitioned as
    their source topics) and its assignor's leader topic. A restarted embedded broker has lost them and no one
    would declare them again while the worker runs, so its table writes would go nowhere: the supervisor
    creates them with the pipeline's topics."""
    app = settings.worker_id
    return [
        TopicSpec(f"{app}-{DEDUP_TABLE}-changelog", settings.raw_partitions, 0, compacted=True),
        TopicSpec(f"{app}-{CLUSTER_TABLE}-changelog", settings.topic_partitions, 0, compacted=True),
        TopicSpec(f"{app}-__assignor-__leader", 1, DAY_MS),
    ]


def ensure_topics(bootstrap: str, specs: list[TopicSpec], replication: int = 1, timeout: float = 60.0) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Retries until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _create_missing(bootstrap, specs, replication)
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise TransientError(f"cannot create topics on {bootstrap}: {exc}", stage="setup") from exc
            time.sleep(1.0)


def _create_missing(bootstrap: str, specs: list[TopicSpec], replication: int) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="akhbar-setup")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created = []
        for spec in missing:
            try:
                admin.create_topics([spec.new_topic(replication)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                continue  # another process won the race: that is fine
        return created
    finally:
        admin.close()
