"""The embedded broker starts, carries messages, and leaves no process behind."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.broker import EmbeddedBroker, port_open


def test_broker_roundtrip_and_clean_stop(tmp_path):
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    pid = broker.process.pid if broker.process else 0
    try:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True)
        for i in range(5):
            producer.send("roundtrip", key=b"k", value=f"خبر {i}".encode())
        producer.flush(10)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, consumer_timeout_ms=3000)
        consumer.assign([TopicPartition("roundtrip", 0)])
        consumer.seek_to_beginning()
        values = [m.value.decode() for m in consumer]
        consumer.close()
        assert values == [f"خبر {i}" for i in range(5)]
    finally:
        broker.stop()
    assert not port_open("127.0.0.1", broker.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_context_manager_stops_on_error(tmp_path):
    with pytest.raises(RuntimeError), EmbeddedBroker() as broker:
        port = broker.port
        assert port_open("127.0.0.1", port)
        raise RuntimeError("boom")
    assert not port_open("127.0.0.1", port)
