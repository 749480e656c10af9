"""Raw archive and replay: what was archived or is on the raw topic goes back to news.raw.v1, unchanged."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, date, datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.archive import RawArchive, read_archive
from pipeline.replay import from_topic, republish
from processors.records import TOPIC_RAW, RawArticle


def raw(i: int, source: str = "s1") -> RawArticle:
    return RawArticle(id=f"{source}-{i}", url=f"https://e.com/{source}/{i}", source=source, title=f"خبر {i}",
                      html=f"<p>نص {i}</p>")  # fmt: skip


def test_archive_roundtrip_by_day_and_source(tmp_path):
    archive = RawArchive(tmp_path, flush_every=2)
    day1, day2 = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    for i in range(3):
        archive.append(raw(i).to_json(), now=day1)
    archive.append(raw(9, "s2").to_json(), now=day2)
    archive.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw-2026-11-20.jsonl.gz", "raw-2026-11-21.jsonl.gz"]
    assert [r.id for r in read_archive(tmp_path)] == ["s1-0", "s1-1", "s1-2", "s2-9"]
    assert [r.id for r in read_archive(tmp_path, since=date(2026, 11, 21))] == ["s2-9"]
    assert [r.id for r in read_archive(tmp_path, sources={"s1"})] == ["s1-0", "s1-1", "s1-2"]
    assert list(read_archive(tmp_path, until=date(2026, 11, 19))) == []


def test_torn_archive_keeps_complete_records(tmp_path):
    path = tmp_path / "raw-2026-11-20.jsonl.gz"
    with gzip.open(path, "ab") as handle:
        handle.write(raw(1).to_json() + b"\n" + b'{"id": "torn", "url"')
    whole = path.read_bytes()
    path.write_bytes(whole + gzip.compress(raw(2).to_json() + b"\n")[:-12])  # a second member cut short
    assert [r.id for r in read_archive(tmp_path)] == ["s1-1"]


def test_replay_from_topic_republishes_only_valid_records(kafka_bootstrap):
    source = f"replay-{uuid.uuid4().hex[:8]}"
    records = [raw(i, source) for i in range(4)]
    poison = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    poison.send(TOPIC_RAW, key=b"x", value=b"not json")
    poison.flush(10)
    poison.close()
    assert republish(kafka_bootstrap, records) == 4
    replayed = from_topic(kafka_bootstrap, {source})
    assert sorted(r.id for r in replayed) == sorted(r.id for r in records)  # order holds only within a partition
    assert republish(kafka_bootstrap, replayed) == 4
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(TOPIC_RAW, p) for p in consumer.partitions_for_topic(TOPIC_RAW) or {0}])
    consumer.seek_to_beginning()
    try:
        mine = [
            m for m in consumer if m.value != b"not json" and RawArticle.model_validate_json(m.value).source == source
        ]
    finally:
        consumer.close()
    assert len(mine) == 8
    assert {m.key.decode() for m in mine} == {r.id for r in records}
