"""Rotating the embedded broker: only once it grew past the limit, only when drained, connectors always resumed."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

import pipeline.rotation as rotation
from pipeline.rotation import MIN_GAP_SECONDS, RETRY_SECONDS, BrokerRotation, pipeline_drained


def test_due_only_past_the_limit_and_never_with_a_zero_limit():
    rotating = BrokerRotation(100.0, drained=lambda: True, stopping=lambda: False)
    assert not rotating.due(99.0, now=0.0) and rotating.due(100.0, now=0.0)
    assert not BrokerRotation(0.0, drained=lambda: True, stopping=lambda: False).due(1e12, now=0.0)


def sequence(rotating: BrokerRotation) -> tuple[bool, list[str]]:
    steps: list[str] = []
    done = rotating.rotate(pause=lambda: steps.append("pause"), restart_broker=lambda: steps.append("restart"),
                           resume=lambda: steps.append("resume"), say=lambda _: None)  # fmt: skip
    return done, steps


def test_a_drained_pipeline_is_paused_rotated_and_resumed_in_that_order():
    rotating = BrokerRotation(1.0, drained=lambda: True, stopping=lambda: False)
    assert sequence(rotating) == (True, ["pause", "restart", "resume"])
    assert rotating.rotations == 1 and rotating.last_rotated_at is not None
    now = rotation.time.monotonic()  # however small the limit, the connectors get time to work before the next
    assert not rotating.due(2.0, now=now) and rotating.due(2.0, now=now + MIN_GAP_SECONDS + 1)


def test_a_pipeline_that_does_not_drain_keeps_its_broker_and_waits_before_trying_again(monkeypatch):
    monkeypatch.setattr(rotation, "DRAIN_SECONDS", 0.05)
    monkeypatch.setattr(rotation.time, "sleep", lambda _: None)
    ticks: list[int] = []
    rotating = BrokerRotation(1.0, drained=lambda: False, stopping=lambda: False, tick=lambda: ticks.append(1))
    assert sequence(rotating) == (False, ["pause", "resume"])
    assert rotating.rotations == 0 and ticks  # the status files were kept fresh while it waited
    now = rotation.time.monotonic()
    assert not rotating.due(2.0, now=now) and rotating.due(2.0, now=now + RETRY_SECONDS + 1)


def test_a_stop_request_ends_the_wait_and_starts_nothing_again():
    rotating = BrokerRotation(1.0, drained=lambda: False, stopping=lambda: True)
    assert sequence(rotating) == (False, ["pause"])  # the supervisor is stopping everything


def test_a_failing_restart_still_resumes_the_connectors():
    def broken() -> None:
        raise OSError("no port")

    steps: list[str] = []
    rotating = BrokerRotation(1.0, drained=lambda: True, stopping=lambda: False)
    with pytest.raises(OSError):
        rotating.rotate(pause=lambda: steps.append("pause"), restart_broker=broken,
                        resume=lambda: steps.append("resume"), say=lambda _: None)  # fmt: skip
    assert steps == ["pause", "resume"] and rotating.rotations == 0


def _commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close()


def test_drained_means_the_group_committed_past_every_message(kafka_bootstrap, unique_topic):
    group = f"g-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for n in range(3):
        producer.send(unique_topic, value=f"m{n}".encode(), partition=0)
    producer.flush(10)
    assert not pipeline_drained(kafka_bootstrap, group, [unique_topic])  # nothing committed yet
    _commit(kafka_bootstrap, group, unique_topic, 2)
    assert not pipeline_drained(kafka_bootstrap, group, [unique_topic])  # one message still unread
    _commit(kafka_bootstrap, group, unique_topic, 3)
    assert pipeline_drained(kafka_bootstrap, group, [unique_topic])
    producer.send(unique_topic, value=b"late", partition=0)
    producer.flush(10)
    producer.close()
    assert not pipeline_drained(kafka_bootstrap, group, [unique_topic])


def test_an_unreachable_broker_is_never_called_drained():
    assert not pipeline_drained("127.0.0.1:1", "g", ["news.raw.v1"])
