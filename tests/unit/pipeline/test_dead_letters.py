"""Dead letters on disk and `akhbar dlq`: every letter is kept, listed, shown, and redriven only when it can be."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.dead_letters import (
    DeadLetterArchive,
    LetterFilter,
    letters_from_topic,
    read_letters,
    redrive,
    select,
    unredrivable,
)
from processors.metrics import Counters
from processors.records import TOPIC_ARTICLES, TOPIC_DLQ, TOPIC_RAW, DeadLetter, RawArticle

runner = CliRunner()
DAY1, DAY2 = datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 21, 9, tzinfo=UTC)


def raw(article_id: str, source: str = "s1") -> RawArticle:
    return RawArticle(id=article_id, url=f"https://e.com/{article_id}", source=source, title="عنوان",
                      text="نص الخبر " * 30)  # fmt: skip


def letter(article_id: str | None, stage: str = "extract", payload: str | None = None, topic: str | None = TOPIC_RAW,
           failed_at: datetime = DAY1, reason: str = "boom") -> DeadLetter:  # fmt: skip
    body = payload if payload is not None else raw(article_id or "x").to_json().decode()
    return DeadLetter(stage=stage, reason=reason, error_type="PermanentError", topic=topic, partition=0, offset=3,
                      key=article_id, article_id=article_id, payload=body, failed_at=failed_at)  # fmt: skip


def test_archive_keeps_letters_by_day_and_skips_a_torn_line(tmp_path):
    archive = DeadLetterArchive(tmp_path)
    archive.append(letter("a1"))
    archive.append(letter("a2", stage="enrich", failed_at=DAY2))
    archive.append(letter("a3", failed_at=DAY2))
    with open(archive.path_for(DAY2.date()), "ab") as handle:
        handle.write(b'{"stage": "extract", "rea')  # a crash mid-write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dlq-2026-11-20.jsonl", "dlq-2026-11-21.jsonl"]
    assert [x.article_id for x in read_letters(tmp_path)] == ["a1", "a2", "a3"]
    assert [x.article_id for x in read_letters(tmp_path, since=date(2026, 11, 21))] == ["a2", "a3"]
    assert [x.article_id for x in read_letters(tmp_path, until=date(2026, 11, 20))] == ["a1"]
    assert list(read_letters(tmp_path / "none")) == []


def test_filter_by_stage_day_and_article_prefix():
    letters = [letter("abc1"), letter("abd2", stage="enrich"), letter("xyz3", failed_at=DAY2), letter(None)]
    assert [x.article_id for x in select(letters, LetterFilter(stages=frozenset({"enrich"})))] == ["abd2"]
    assert [x.article_id for x in select(letters, LetterFilter(article="ab"))] == ["abc1", "abd2"]
    assert [x.article_id for x in select(letters, LetterFilter(since=date(2026, 11, 21)))] == ["xyz3"]
    assert len(select(letters, LetterFilter())) == 4


def test_only_a_valid_record_of_a_pipeline_topic_can_go_back():
    assert unredrivable(letter("a1")) is None
    assert "not a valid RawArticle" in (unredrivable(letter("a1", payload="not json")) or "")
    assert "not a valid Article" in (unredrivable(letter("a1", topic=TOPIC_ARTICLES)) or "")  # a raw on articles
    assert "not a pipeline topic" in (unredrivable(letter("a1", topic=TOPIC_DLQ)) or "")
    assert "no topic" in (unredrivable(letter("a1", topic=None)) or "")


def test_a_dry_run_counts_and_sends_nothing():
    done = redrive(None, [letter("a1"), letter("a2", payload="{}")])
    assert done.sent == {TOPIC_RAW: 1} and [(x.article_id, r[:23]) for x, r in done.skipped] == [
        ("a2", "its payload is not a va")
    ]


def _mine_on(bootstrap: str, topic: str, source: str) -> list[tuple[bytes | None, RawArticle]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or {0}])
    consumer.seek_to_beginning()
    try:
        found = []
        for message in consumer:
            try:
                record = RawArticle.model_validate_json(message.value)
            except ValueError:
                continue
            if record.source == source:
                found.append((message.key, record))
        return found
    finally:
        consumer.close()


def test_redrive_sends_the_original_message_to_its_topic_with_its_key(kafka_bootstrap):
    source = f"redrive-{uuid.uuid4().hex[:8]}"
    good = letter("r1", payload=raw("r1", source).to_json().decode())
    done = redrive(kafka_bootstrap, [good, letter("r2", payload="not json")], compression_type="zstd")
    assert done.sent == {TOPIC_RAW: 1} and [x.article_id for x, _ in done.skipped] == ["r2"]
    [(key, record)] = _mine_on(kafka_bootstrap, TOPIC_RAW, source)
    assert key == b"r1" and record == RawArticle.model_validate_json(good.payload)


def test_letters_are_read_back_from_the_topic(kafka_bootstrap):
    mine = f"t-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(TOPIC_DLQ, value=letter(mine).to_json())
    producer.send(TOPIC_DLQ, value=b"not a letter")
    producer.flush(10)
    producer.close()
    assert [x.article_id for x in letters_from_topic(kafka_bootstrap) if x.article_id == mine] == [mine]


@pytest.fixture
def data(monkeypatch, tmp_path):
    for name in ("AKHBAR_KAFKA_BOOTSTRAP", "AKHBAR_ELASTICSEARCH_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(tmp_path / "data"))
    archive = DeadLetterArchive(tmp_path / "data" / "dead-letters")
    archive.append(letter("aaa111", reason="text too long for the mapping"))
    archive.append(letter("bbb222", stage="parse", payload="\ufffd not json", failed_at=DAY2))
    return tmp_path / "data"


def test_dlq_list_shows_each_letter_and_counts_by_stage_and_reason(data):
    result = runner.invoke(app, ["dlq", "list"])
    assert result.exit_code == 0, result.output
    assert "aaa111" in result.output and "bbb222" in result.output and "2 dead letters" in result.output
    assert "extract: text too long for the mapping" in result.output
    only = runner.invoke(app, ["dlq", "list", "--stage", "parse"])
    assert "bbb222" in only.output and "aaa111" not in only.output
    assert "no dead letters" in runner.invoke(app, ["dlq", "list", "--since", "2027-01-01"]).output
    bad = runner.invoke(app, ["dlq", "list", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since/--until" in bad.output


def test_dlq_show_prints_the_whole_letter_as_json(data):
    result = runner.invoke(app, ["dlq", "show", "aaa"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["article_id"] == "aaa111" and RawArticle.model_validate_json(shown["payload"]).id == "aaa111"
    missing = runner.invoke(app, ["dlq", "show", "zzz"])
    assert missing.exit_code == 2 and "no dead letter" in missing.output


def test_dlq_redrive_needs_a_broker_but_a_dry_run_does_not(data):
    refused = runner.invoke(app, ["dlq", "redrive"])
    assert refused.exit_code == 2 and "AKHBAR_KAFKA_BOOTSTRAP" in refused.output
    dry = runner.invoke(app, ["dlq", "redrive", "--dry-run"])
    assert dry.exit_code == 0 and "1 would be sent to news.raw.v1" in dry.output
    assert "left bbb222 (parse): its payload is not a valid RawArticle" in dry.output
    refused_topic = runner.invoke(app, ["dlq", "list", "--from-topic"])
    assert refused_topic.exit_code == 2 and "AKHBAR_KAFKA_BOOTSTRAP" in refused_topic.output


def test_dlq_redrive_finds_the_embedded_broker_of_a_running_akhbar_run(data, kafka_bootstrap):
    broker = Counters("broker")
    broker.set("broker.bootstrap", kafka_bootstrap)  # what the supervisor writes each half second
    broker.write(data / "stats")
    result = runner.invoke(app, ["dlq", "redrive", "--article", "aaa"])
    assert result.exit_code == 0, result.output
    assert "redrive: 1 sent, 0 left, of 1 letters" in result.output
