"""Dead letters: every news.dlq.v1 letter also kept on disk, read back, and redriven to its topic after a fix.

The embedded broker keeps messages in memory only, so without a copy of their own the dead letters of `akhbar run`
would vanish with it (a restart, a crash) while the counters still said they existed. The worker writes each
letter to a daily JSON-lines file under ``data/dead-letters`` before it sends it; `akhbar dlq` lists, shows and
redrives them from there (or from the topic, where Kafka keeps it, e.g. under compose). Plain JSON lines, not
gzip: dead letters are few, and an operator greps them.

Redrive republishes a letter's original message to the topic it was read from, keyed as it was. Only a payload
that is a valid record of that topic goes back (a message that never parsed would only be dead-lettered
again); the stages are idempotent by article id, so redriving twice changes nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kafka import KafkaProducer
from pydantic import BaseModel, ValidationError

from pipeline.replay import topic_values
from processors.records import (
    TOPIC_ARTICLES,
    TOPIC_DLQ,
    TOPIC_ENRICHED,
    TOPIC_RAW,
    Article,
    DeadLetter,
    EnrichedArticle,
    RawArticle,
)

RECORD_OF_TOPIC: dict[str, type[BaseModel]] = {TOPIC_RAW: RawArticle, TOPIC_ARTICLES: Article,
                                               TOPIC_ENRICHED: EnrichedArticle}  # fmt: skip


class DeadLetterArchive:
    """Append-only daily files ``dlq-YYYY-MM-DD.jsonl`` (by the letter's ``failed_at``) under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def path_for(self, day: date) -> Path:
        return self.directory / f"dlq-{day.isoformat()}.jsonl"

    def append(self, letter: DeadLetter) -> None:
        """Write one letter to its day's file and close it: letters are rare, and each must outlive a crash
        right after it (an open handle would also outlive the worker's agents)."""
        line = letter.to_json() + b"\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(self.path_for(letter.failed_at.date()), "ab") as handle:
                handle.write(line)


def read_letters(directory: Path, since: date | None = None, until: date | None = None) -> Iterator[DeadLetter]:
    """Archived letters in file order (oldest day first); a torn last line (a crash mid-write) is skipped."""
    for path in sorted(directory.glob("dlq-*.jsonl")):
        try:
            day = date.fromisoformat(path.name[4:14])
        except ValueError:
            continue
        if (since and day < since) or (until and day > until):
            continue
        with open(path, "rb") as handle:
            for line in handle:
                try:
                    yield DeadLetter.model_validate_json(line)
                except ValidationError:
                    continue


def letters_from_topic(bootstrap: str) -> list[DeadLetter]:
    """Every letter now on news.dlq.v1; a message no worker wrote is skipped."""
    letters = []
    for value in topic_values(bootstrap, TOPIC_DLQ):
        try:
            letters.append(DeadLetter.model_validate_json(value))
        except ValidationError:
            continue
    return letters


@dataclass(frozen=True)
class LetterFilter:
    """Which letters a command looks at: by stage, by failure day, by article id prefix."""

    stages: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None
    article: str | None = None

    def keeps(self, letter: DeadLetter) -> bool:
        day = letter.failed_at.date()
        return (
            (not self.stages or letter.stage in self.stages)
            and (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
            and (self.article is None or (letter.article_id or "").startswith(self.article))
        )


def select(letters: Iterable[DeadLetter], chosen: LetterFilter) -> list[DeadLetter]:
    return [letter for letter in letters if chosen.keeps(letter)]


def unredrivable(letter: DeadLetter) -> str | None:
    """Why the letter cannot go back to its topic, or None when it can."""
    record = RECORD_OF_TOPIC.get(letter.topic or "")
    if record is None:
        return f"read from {letter.topic or 'no topic'}, not a pipeline topic"
    try:
        record.model_validate_json(letter.payload)
    except ValidationError:
        return f"its payload is not a valid {record.__name__} (it would be dead-lettered again)"
    return None


@dataclass
class Redrive:
    """What a redrive did: letters republished per topic, and those left with the reason."""

    sent: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)


def redrive(bootstrap: str | None, letters: Iterable[DeadLetter], compression_type: str | None = None) -> Redrive:
    """Republish each redrivable letter's payload to its topic (acks=all); ``bootstrap`` None is a dry run."""
    result = Redrive()
    producer = None if bootstrap is None else KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
        compression_type=compression_type,
    )  # fmt: skip
    try:
        for letter in letters:
            reason = unredrivable(letter)
            if reason is not None:
                result.skipped.append((letter, reason))
                continue
            topic = letter.topic or ""
            key = letter.key if letter.key is not None else letter.article_id
            if producer is not None:
                producer.send(topic, key=key.encode() if key else None, value=letter.payload.encode("utf-8"))
            result.sent[topic] = result.sent.get(topic, 0) + 1
        if producer is not None:
            producer.flush(60)
    finally:
        if producer is not None:
            producer.close(timeout=10)
    return result
