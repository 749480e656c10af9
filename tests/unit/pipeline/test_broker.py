"""The embedded broker starts, carries messages, and leaves no process behind."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.broker import EmbeddedBroker, port_open
from pipeline.topics import TopicSpec, ensure_topics


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
        assert broker.resident_bytes() > 1 << 20
    finally:
        broker.stop()
    assert broker.resident_bytes() == 0
    assert not port_open("127.0.0.1", broker.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_zstd_batches_go_through_both_clients(kafka_bootstrap):
    """akhbar's producers compress with zstd by default: Tansu must take the batches as they are, and both
    clients (kafka-python for connectors and replay, aiokafka under Faust) must read them back."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    ensure_topics(kafka_bootstrap, [TopicSpec("zstd-roundtrip", 1, 3_600_000)])  # one partition: one order
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", compression_type="zstd")
    sent = [f"خبر عاجل {i} ".encode() * 50 for i in range(20)]
    for value in sent[:10]:
        producer.send("zstd-roundtrip", value=value)
    producer.flush(10)
    producer.close()

    async def through_aiokafka() -> list[bytes]:
        aio_producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type="zstd")
        await aio_producer.start()
        try:
            for value in sent[10:]:
                await aio_producer.send_and_wait("zstd-roundtrip", value)
        finally:
            await aio_producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign([TopicPartition("zstd-roundtrip", 0)])
            await consumer.seek_to_beginning()
            batches = await consumer.getmany(timeout_ms=5000, max_records=100)
            return [m.value for records in batches.values() for m in records]
        finally:
            await consumer.stop()

    assert asyncio.run(through_aiokafka()) == sent
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=3000)
    consumer.assign([TopicPartition("zstd-roundtrip", 0)])
    consumer.seek_to_beginning()
    assert [m.value for m in consumer] == sent
    consumer.close()


def test_context_manager_stops_on_error(tmp_path):
    with pytest.raises(RuntimeError), EmbeddedBroker() as broker:
        port = broker.port
        assert port_open("127.0.0.1", port)
        raise RuntimeError("boom")
    assert not port_open("127.0.0.1", port)
