"""Topics are created once with their partition counts; creating them again is harmless."""

from __future__ import annotations

from kafka import KafkaConsumer

from pipeline.settings import Settings
from pipeline.topics import TopicSpec, ensure_topics, topic_specs, worker_topic_specs
from processors.records import TOPIC_ARTICLES, TOPIC_DLQ, TOPIC_ENRICHED, TOPIC_RAW


def test_specs_follow_settings():
    specs = {s.name: s for s in topic_specs(Settings(topic_partitions=3, raw_partitions=1))}
    assert set(specs) == {TOPIC_RAW, TOPIC_ARTICLES, TOPIC_ENRICHED, TOPIC_DLQ}
    assert specs[TOPIC_RAW].partitions == 1
    assert specs[TOPIC_ARTICLES].partitions == 3
    assert specs[TOPIC_DLQ].retention_ms > specs[TOPIC_RAW].retention_ms


def test_ensure_topics_creates_then_is_idempotent(kafka_bootstrap, unique_topic):
    specs = [TopicSpec(unique_topic, 3, 3600_000), TopicSpec(unique_topic + ".b", 1, 3600_000)]
    assert sorted(ensure_topics(kafka_bootstrap, specs)) == sorted([unique_topic, unique_topic + ".b"])
    assert ensure_topics(kafka_bootstrap, specs) == []
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert consumer.partitions_for_topic(unique_topic) == {0, 1, 2}
    finally:
        consumer.close()


def test_the_worker_topics_are_the_ones_faust_declares(tmp_path):
    """After a restart of the embedded broker the supervisor recreates them: their names and partitions must be
    exactly those of the worker's tables and assignor, or its table writes would still go nowhere."""
    from pipeline.app import create_app, declare_tables

    settings = Settings(data_dir=tmp_path, worker_id="w1", raw_partitions=1, topic_partitions=3)
    app = create_app(settings, "127.0.0.1:9")
    tables = declare_tables(app, settings)
    declared = {(t.changelog_topic.get_topic_name(), t.partitions) for t in tables}
    declared.add((app._leader_assignor._leader_topic_name, 1))
    assert {(spec.name, spec.partitions) for spec in worker_topic_specs(settings)} == declared
    assert [spec.compacted for spec in worker_topic_specs(settings)] == [True, True, False]
    assert worker_topic_specs(settings)[0].new_topic(1).topic_configs == {"cleanup.policy": "compact"}
