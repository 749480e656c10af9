"""Agent routing: every message is forwarded, counted as a drop, or dead-lettered; nothing escapes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import faust.streams
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faust.exceptions import NotReady, ProducerSendError

import pipeline.agents as agents
from pipeline.agents import Stages, _guarded_batch, _guarded_finish, _guarded_start
from pipeline.app import PipelineTopics
from pipeline.dead_letters import DeadLetterArchive, read_letters
from pipeline.sinks.base import Rejection, Written, completed, parse_serialized
from processors.errors import Dropped, PermanentError, TransientError
from processors.metrics import Counters
from processors.records import Article, DedupInfo, EnrichedArticle, RawArticle, json_with


@dataclass
class Msg:
    topic: str
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


@dataclass
class Event:
    value: Any
    message: Msg


@dataclass
class FakeTopic:
    """A topic whose app's producer records what the agents publish (``fail_times`` sends raise ``error`` first)."""

    name: str
    sent: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    fail_times: int = 0
    error: Exception = field(default_factory=lambda: ConnectionError("broker away"))

    @property
    def app(self) -> Any:
        return self

    async def maybe_start_producer(self) -> Any:
        return self

    async def send(self, topic: str, key: bytes | None, value: bytes, *_: Any) -> None:
        assert topic == self.name
        if self.fail_times:
            self.fail_times -= 1
            raise self.error
        self.sent.append((key, value))

    def get_topic_name(self) -> str:
        return self.name


def raw_record(i: int = 1) -> RawArticle:
    return RawArticle(id=f"id{i}", url=f"https://e.com/{i}", source="s", title="عنوان", text="نص " * 50)


def article_from(raw: RawArticle, status: str = "unique") -> Article:
    return Article(id=raw.id, url=raw.url, source=raw.source, title=raw.title, text=raw.text or "", language="ar",
                   published_at=raw.fetched_at, published_at_method="fetch_time", fetched_at=raw.fetched_at,
                   extraction_method="text", text_hash="h" + raw.id, dedup=DedupInfo(status=status))  # fmt: skip


class FakeChain:
    def __init__(self, outcome: Exception | None = None, language: str = "ar") -> None:
        self.outcome, self.language = outcome, language
        self.deduplicator = self.clusterer = self
        self.store: dict[str, Any] = {}  # both tables
        self.rebuilds = 0

    def rebuild_index(self) -> int:
        self.rebuilds += 1
        return 0

    def extract(self, raw: RawArticle) -> Article:
        if self.outcome:
            raise self.outcome
        return article_from(raw).model_copy(update={"language": self.language})

    def extract_signed(self, raw: RawArticle) -> tuple[Article, None]:
        return self.extract(raw), None

    def deduplicate(self, article: Article, signed: None = None) -> Article:
        return article

    def enrich_content(self, article: Article) -> EnrichedArticle:
        if self.outcome:
            raise self.outcome
        return EnrichedArticle.model_validate(article.model_dump())

    def enrich_packed(self, article: Article) -> tuple[bytes, EnrichedArticle]:
        enriched = self.enrich_content(article)
        return enriched.model_dump_json(exclude={"dedup"}).encode(), enriched

    def assign_packed(self, body: bytes, enriched: EnrichedArticle) -> bytes:
        return json_with(body, "dedup", enriched.dedup.to_json())

    def expire(self, now: Any) -> int:
        return 0


class FakeSink:
    def __init__(self, down_for: int = 0, reject: set[str] | None = None) -> None:
        self.down_for, self.reject, self.written, self.opened = down_for, reject or set(), [], 0

    async def open(self) -> None:
        self.opened += 1

    async def write(self, docs: list[EnrichedArticle]) -> list[Rejection]:
        if self.down_for:
            self.down_for -= 1
            raise TransientError("connection refused", stage="index")
        self.written.extend(d.id for d in docs if d.id not in self.reject)
        return [Rejection(d.id, "mapper_parsing_exception", d.to_json().decode()) for d in docs if d.id in self.reject]

    async def write_serialized(self, values: list[bytes]) -> Written:
        docs, written = parse_serialized(values)
        return completed(written, docs, await self.write(docs))

    async def close(self) -> None:
        return None


def make_stages(chain: Any = None, sink: Any = None) -> tuple[Stages, PipelineTopics]:
    topics = PipelineTopics(*(FakeTopic(n) for n in ("raw", "articles", "enriched", "dlq")))  # type: ignore[arg-type]
    stages = Stages(topics, chain or FakeChain(), sink or FakeSink(), Counters("test"), 10, 0.1)
    return stages, topics


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    async def instant(_: float) -> None:
        return None

    monkeypatch.setattr(agents.asyncio, "sleep", instant)


def dlq(topics: PipelineTopics) -> list[dict]:
    return [json.loads(v) for _, v in topics.dlq.sent]  # type: ignore[attr-defined]


def test_poison_message_is_dead_lettered_with_payload():
    stages, topics = make_stages()
    asyncio.run(stages.handle_raw(Event(b"\xff not json", Msg("news.raw.v1", 0, 41, b"k"))))
    [letter] = dlq(topics)
    assert letter["stage"] == "parse" and letter["offset"] == 41 and letter["key"] == "k"
    assert "not json" in letter["payload"]
    assert topics.articles.sent == []  # type: ignore[attr-defined]


def test_kept_non_arabic_articles_are_counted_by_language_and_drops_by_reason():
    stages, topics = make_stages(FakeChain(language="en"))
    asyncio.run(stages.handle_raw(Event(raw_record(3).to_json(), Msg("news.raw.v1"))))
    assert stages.counters.get("extract", "kept_non_arabic.en") == 1 and len(topics.articles.sent) == 1  # type: ignore[attr-defined]
    dropping, _ = make_stages(FakeChain(Dropped("not_arabic", stage="extract")))
    asyncio.run(dropping.handle_raw(Event(raw_record(4).to_json(), Msg("news.raw.v1"))))
    assert dropping.counters.get("extract", "dropped.not_arabic") == 1


def test_valid_raw_is_forwarded_keyed_by_id():
    stages, topics = make_stages()
    asyncio.run(stages.handle_raw(Event(raw_record(3).to_json(), Msg("news.raw.v1"))))
    [(key, value)] = topics.articles.sent  # type: ignore[attr-defined]
    assert key == b"id3" and Article.model_validate_json(value).dedup.status == "unique"
    assert stages.counters.get("extract", "out") == 1 and stages.counters.get("dedup", "unique") == 1
    asyncio.run(stages.handle_raw(Event(raw_record(4).to_json(), Msg("news.raw.v1"))))
    assert stages.chain.rebuilds == 1  # the LSH index is rebuilt once, before the first article
    stages.mark_indexes_stale()  # a rebalance
    asyncio.run(stages.handle_raw(Event(raw_record(5).to_json(), Msg("news.raw.v1"))))
    assert stages.chain.rebuilds == 2


@pytest.mark.parametrize(
    ("error", "stage", "dead"),
    [
        (Dropped("not_arabic"), None, False),
        (PermanentError("undecodable page", stage="extract"), "extract", True),
        (RuntimeError("bug in trafilatura"), "extract", True),
    ],
)
def test_extract_outcomes(error, stage, dead):
    stages, topics = make_stages(FakeChain(error))
    asyncio.run(stages.handle_raw(Event(raw_record().to_json(), Msg("news.raw.v1"))))
    assert topics.articles.sent == []  # type: ignore[attr-defined]
    letters = dlq(topics)
    if dead:
        assert letters[0]["stage"] == stage and letters[0]["article_id"] == "id1"
    else:
        assert letters == [] and stages.counters.get("extract", "dropped.not_arabic") == 1


def test_sink_down_then_up_indexes_everything_once():
    sink = FakeSink(down_for=3)
    stages, topics = make_stages(sink=sink)
    events = [Event(EnrichedArticle.model_validate(article_from(raw_record(i)).model_dump()).to_json(),
                    Msg("news.enriched.v1", 0, i)) for i in range(5)]  # fmt: skip
    asyncio.run(stages.handle_batch(events))
    assert sink.written == [f"id{i}" for i in range(5)]
    assert stages.counters.get("index", "retry") == 3 and stages.counters.get("index", "out") == 5
    assert dlq(topics) == []


def test_rejected_items_and_bad_records_are_dead_lettered():
    stages, topics = make_stages(sink=FakeSink(reject={"id2"}))
    good = [Event(EnrichedArticle.model_validate(article_from(raw_record(i)).model_dump()).to_json(),
                  Msg("news.enriched.v1", 0, i)) for i in (1, 2)]  # fmt: skip
    asyncio.run(stages.handle_batch([*good, Event(b'{"id": 1}', Msg("news.enriched.v1", 0, 9))]))
    stages_seen = sorted(letter["stage"] for letter in dlq(topics))
    assert stages_seen == ["index", "parse"]
    index_letter = next(x for x in dlq(topics) if x["stage"] == "index")
    assert index_letter["article_id"] == "id2" and "mapper_parsing_exception" in index_letter["reason"]


def test_dead_letter_send_waits_for_the_broker():
    stages, topics = make_stages()
    topics.dlq.fail_times = 2  # type: ignore[attr-defined]
    asyncio.run(stages.handle_raw(Event(b"[]", Msg("news.raw.v1"))))
    assert len(dlq(topics)) == 1 and stages.counters.get("produce", "retry") == 2


@pytest.mark.parametrize(
    "error",
    [
        ProducerSendError("Error while sending: KafkaConnectionError()"),
        KafkaConnectionError("no connection to the bootstrap"),
        KafkaTimeoutError(),
        NotReady("Producer service not yet started"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ],
    ids=type,
)
def test_a_send_retries_transport_errors_until_the_broker_is_back(error):
    stages, topics = make_stages()
    topics.articles.fail_times, topics.articles.error = 3, error  # type: ignore[attr-defined]
    asyncio.run(stages.handle_raw(Event(raw_record(3).to_json(), Msg("news.raw.v1"))))
    assert [key for key, _ in topics.articles.sent] == [b"id3"]  # type: ignore[attr-defined]
    assert stages.counters.get("produce", "retry") == 3 and dlq(topics) == []


def test_a_send_failing_with_a_bug_is_dead_lettered_at_once_not_retried():
    stages, topics = make_stages()
    topics.articles.fail_times, topics.articles.error = 1, TypeError("send() takes 3 arguments")  # type: ignore[attr-defined]
    asyncio.run(stages.handle_raw(Event(raw_record(3).to_json(), Msg("news.raw.v1", 0, 8))))
    assert topics.articles.sent == []  # type: ignore[attr-defined]
    [letter] = dlq(topics)
    assert (letter["stage"], letter["offset"], letter["article_id"]) == ("dedup", 8, "id3")
    assert letter["error_type"] == "TypeError" and "3 arguments" in letter["reason"]
    assert stages.counters.get("produce", "retry") == 0 and stages.counters.get("produce", "error") == 1
    assert stages.counters.get("dedup", "dead_letter") == 1


def test_an_unsendable_dead_letter_is_logged_whole_and_nothing_escapes(caplog):
    stages, topics = make_stages()
    for topic in (topics.enriched, topics.dlq):
        topic.fail_times, topic.error = 1, AttributeError("stale fake")  # type: ignore[attr-defined]
    event = Event(article_from(raw_record(4)).to_json(), Msg("news.articles.v1", 0, 5))
    asyncio.run(stages.handle_article_batch([event]))
    assert topics.enriched.sent == [] and dlq(topics) == []  # type: ignore[attr-defined]
    assert stages.counters.get("enrich", "dead_letter_unsent") == 1 and stages.counters.get("produce", "error") == 2
    [logged] = [r.getMessage() for r in caplog.records if "dead letter could not be sent" in r.getMessage()]
    letter = json.loads(logged.split("the letter: ", 1)[1])
    assert letter["article_id"] == "id4" and letter["offset"] == 5 and "stale fake" in letter["reason"]
    assert Article.model_validate_json(letter["payload"]).id == "id4"


def test_every_dead_letter_is_also_kept_on_disk_even_when_the_topic_refuses_it(tmp_path):
    stages, topics = make_stages()
    stages.letters = DeadLetterArchive(tmp_path)
    asyncio.run(stages.handle_raw(Event(b"not json", Msg("news.raw.v1", 0, 7, b"k"))))
    topics.dlq.fail_times, topics.dlq.error = 1, AttributeError("stale fake")  # type: ignore[attr-defined]
    asyncio.run(stages.handle_raw(Event(b"{}", Msg("news.raw.v1", 0, 8))))
    kept = list(read_letters(tmp_path))
    assert [(letter.offset, letter.payload) for letter in kept] == [(7, "not json"), (8, "{}")]
    assert [json.loads(v)["offset"] for _, v in topics.dlq.sent] == [7]  # type: ignore[attr-defined]
    assert stages.counters.get("parse", "dead_letter") == 1 and stages.counters.get("parse", "dead_letter_unsent") == 1


def test_a_dead_letter_the_disk_refuses_still_reaches_the_topic(tmp_path, caplog):
    stages, topics = make_stages()
    (tmp_path / "file").write_text("")
    stages.letters = DeadLetterArchive(tmp_path / "file" / "letters")  # a directory under a file: OSError
    asyncio.run(stages.handle_raw(Event(b"not json", Msg("news.raw.v1", 0, 9))))
    assert [json.loads(v)["offset"] for _, v in topics.dlq.sent] == [9]  # type: ignore[attr-defined]
    assert stages.counters.get("parse", "dead_letter_unarchived") == 1
    assert any("could not be archived" in r.getMessage() and '"offset":9' in r.getMessage() for r in caplog.records)


class RecordingTable(dict):
    """A table that records its writes (a Faust table writes each to its changelog)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def test_after_a_lost_changelog_each_stage_rewrites_its_whole_table_once(monkeypatch):
    turns: list[float] = []

    async def turn(seconds: float) -> None:
        turns.append(seconds)

    monkeypatch.setattr(agents.asyncio, "sleep", turn)
    monkeypatch.setattr(agents, "REWRITE_YIELD_EVERY", 1)
    chain = FakeChain()
    chain.store = RecordingTable({"a:1": {"t": 1}, "h:x": {"id": "1"}})
    stages, _ = make_stages(chain)
    asyncio.run(stages.handle_raw(Event(raw_record(1).to_json(), Msg("news.raw.v1"))))
    assert chain.store.writes == []
    stages.mark_changelogs_lost()
    asyncio.run(stages.handle_raw(Event(raw_record(2).to_json(), Msg("news.raw.v1"))))
    asyncio.run(stages.handle_raw(Event(raw_record(3).to_json(), Msg("news.raw.v1"))))
    assert sorted(chain.store.writes) == ["a:1", "h:x"] and turns == [0, 0]  # the event loop got its turns
    assert stages.counters.snapshot()["gauges"]["dedup.state_rewritten"] == 2
    asyncio.run(stages.handle_article_batch([Event(article_from(raw_record(4)).to_json(), Msg("news.articles.v1"))]))
    assert sorted(chain.store.writes) == ["a:1", "a:1", "h:x", "h:x"]
    assert stages.lost_changelogs == set()


def test_guard_turns_a_handler_bug_into_a_dead_letter():
    stages, topics = make_stages()

    async def handle_broken(events: list[Event]) -> None:
        raise KeyError("oops")

    batch = [Event(b"{}", Msg("news.articles.v1", 0, n)) for n in range(2)]
    asyncio.run(_guarded_batch(stages, batch, handle_broken, "enrich"))
    assert [(x["stage"], x["offset"]) for x in dlq(topics)] == [("enrich", 0), ("enrich", 1)]
    assert "KeyError" in dlq(topics)[0]["reason"]


def test_an_overlapped_stage_dead_letters_a_batch_whose_start_or_routing_breaks():
    """Either half of an overlapped stage (pipeline/batching.overlapped) may not raise: its batch is
    dead-lettered, nothing of a batch that did not start is routed, and the next batch goes on."""
    stages, topics = make_stages()
    routed: list[Any] = []

    async def start_broken(events: list[Event]) -> Any:
        raise KeyError("start")

    async def finish_broken(events: list[Event], work: Any) -> None:
        raise ValueError("finish")

    async def finish(events: list[Event], work: Any) -> None:
        routed.append(work)

    batch = [Event(b"{}", Msg("news.raw.v1", 0, n)) for n in range(2)]
    started = asyncio.run(_guarded_start(stages, start_broken, "extract")(batch))
    asyncio.run(_guarded_finish(stages, finish, "extract")(batch, started))
    assert started is None and routed == []
    asyncio.run(_guarded_finish(stages, finish_broken, "enrich")(batch, "work"))
    letters = [(x["stage"], x["offset"], x["reason"].split(":")[0]) for x in dlq(topics)]
    assert letters == [("extract", 0, "KeyError"), ("extract", 1, "KeyError"), ("enrich", 0, "ValueError"),
                       ("enrich", 1, "ValueError")]  # fmt: skip


class PickyChain(FakeChain):
    """Drops id2, rejects id3 for good, and breaks (a bug) deduplicating id5; records the table's event."""

    def __init__(self) -> None:
        super().__init__()
        self.current: list[Any] = []

    def extract(self, raw: RawArticle) -> Article:
        if raw.id == "id2":
            raise Dropped("too_short", stage="extract")
        if raw.id == "id3":
            raise PermanentError("undecodable page", stage="extract")
        return super().extract(raw)

    def deduplicate(self, article: Article, signed: None = None) -> Article:
        self.current.append(faust.streams.current_event())
        if article.id == "id5":
            raise KeyError("bug")
        return article


def test_a_batch_is_routed_item_by_item_in_arrival_order():
    chain = PickyChain()
    stages, topics = make_stages(chain)
    events = [Event(raw_record(i).to_json(), Msg("news.raw.v1", 0, i)) for i in range(1, 7)]
    events.insert(2, Event(b"not json", Msg("news.raw.v1", 0, 99)))
    asyncio.run(stages.handle_raw_batch(events))
    assert [key for key, _ in topics.articles.sent] == [b"id1", b"id4", b"id6"]  # type: ignore[attr-defined]
    assert [(x["stage"], x["offset"]) for x in dlq(topics)] == [("parse", 99), ("extract", 3), ("dedup", 5)]
    counters = stages.counters
    assert counters.get("extract", "in") == 7 and counters.get("extract", "dropped.too_short") == 1
    assert counters.get("extract", "out") == 3
    # each article's table writes go to its own event's partition, not the batch's last one
    assert chain.current == [events[0], events[4], events[5], events[6]]


def test_an_article_batch_is_enriched_then_clustered_in_order():
    clustered: list[str] = []

    class Clustering(FakeChain):
        def assign_packed(self, body: bytes, enriched: EnrichedArticle) -> bytes:
            clustered.append(enriched.id)
            return super().assign_packed(body, enriched)

    stages, topics = make_stages(Clustering())
    events = [Event(article_from(raw_record(i)).to_json(), Msg("news.articles.v1", 0, i)) for i in (3, 1, 2)]
    asyncio.run(stages.handle_article_batch([*events, Event(b"{}", Msg("news.articles.v1", 0, 7))]))
    assert clustered == ["id3", "id1", "id2"]
    assert [key for key, _ in topics.enriched.sent] == [b"id3", b"id1", b"id2"]  # type: ignore[attr-defined]
    assert [x["stage"] for x in dlq(topics)] == ["parse"] and stages.counters.get("enrich", "out") == 3
