"""Faults on the embedded broker (issue 8): the sink locked, a worker killed mid-stream, redelivery.

Each test gets a fresh Tansu broker, data directory and `akhbar worker` subprocess (as `benchmarks/bench_pipeline`
does) and judges the outcome by the embedded store's rows, the worker's counter snapshot and news.dlq.v1:
every article that enters is indexed (or folded into its original's ``reported_by``), counted as a drop, or
dead-lettered with a reason, and nothing is indexed twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks.corpus import build
from pipeline.broker import EmbeddedBroker
from pipeline.dead_letters import read_letters, redrive
from pipeline.replay import from_topic, republish
from pipeline.settings import Settings
from pipeline.topics import DEDUP_TABLE, ensure_topics, topic_specs, worker_topic_specs
from processors.chain import ArticleChain
from processors.errors import Dropped, PermanentError
from processors.records import TOPIC_ARTICLES, TOPIC_DLQ, TOPIC_ENRICHED, TOPIC_RAW, RawArticle
from processors.urls import article_id

pytestmark = pytest.mark.integration

T = TypeVar("T")
VOLATILE = ("indexed_at", "enriched_at")  # set again whenever a document is rewritten; not what it says


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    check: Callable[[], None] = lambda: None,
    explain: Callable[[], str] = lambda: "",
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        check()
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{explain()}")


class Pipeline:
    """A fresh embedded broker and data directory, `akhbar worker` children, and a producer for test input."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.extra_env = env
        self.broker = EmbeddedBroker(log_path=data / "tansu.log")
        self.workers: list[subprocess.Popen[bytes]] = []
        self.halted: set[int] = set()
        self.producer: KafkaProducer | None = None

    def __enter__(self) -> Pipeline:
        self.data.mkdir(parents=True, exist_ok=True)
        self.broker.start()
        ensure_topics(self.broker.bootstrap, topic_specs(Settings(data_dir=self.data)))
        self.producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", linger_ms=5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)
        for worker in self.workers:
            stop(worker)
        self.broker.stop()

    def env(self, data: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AKHBAR_")}
        env.update(AKHBAR_KAFKA_BOOTSTRAP=self.broker.bootstrap, AKHBAR_DATA_DIR=str(data or self.data),
                   AKHBAR_LOG_LEVEL="INFO", AKHBAR_SINK_BATCH_SIZE="50")  # fmt: skip
        return env | self.extra_env

    def start_worker(self, data: Path | None = None) -> subprocess.Popen[bytes]:
        log = open(self.data / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115 (closed with the child)
        worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=self.env(data),
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        self.workers.append(worker)
        return worker

    def halt(self, worker: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one worker on purpose (SIGTERM: a clean leave; SIGKILL: a crash)."""
        self.halted.add(worker.pid)
        if sig == signal.SIGTERM:
            stop(worker)
        else:
            worker.send_signal(sig)
            worker.wait(timeout=10)

    def alive(self) -> None:
        """Fail at once when a worker died that was not stopped on purpose (its log tail says why)."""
        for number, worker in enumerate(self.workers):
            if worker.pid not in self.halted and worker.poll() is not None:
                pytest.fail(f"worker {number} exited with {worker.returncode}:\n{self.log(number)[-3000:]}")

    def log(self, number: int) -> str:
        return (self.data / f"worker-{number}.log").read_text(encoding="utf-8", errors="replace")

    def assignments(self, number: int) -> int:
        """How many times worker ``number`` has been given its partitions (1 after start, +1 per rebalance)."""
        return self.log(number).count("Setting newly assigned partitions")

    # -- input ---------------------------------------------------------------------------------------------
    def send(self, articles: Iterable[RawArticle]) -> None:
        """Publish raw articles and wait for every acknowledgement (a failed send fails the test here)."""
        assert self.producer is not None
        futures = [self.producer.send(TOPIC_RAW, key=raw.id.encode(), value=raw.to_json()) for raw in articles]
        self.flush()
        for future in futures:
            future.get(timeout=30)

    def send_bytes(self, topic: str, key: bytes | None, value: bytes) -> None:
        assert self.producer is not None
        self.producer.send(topic, key=key, value=value)

    def flush(self) -> None:
        assert self.producer is not None
        self.producer.flush(timeout=30)

    # -- what came out --------------------------------------------------------------------------------------
    def docs(self) -> dict[str, dict[str, Any]]:
        """id → stored document (read-only; an empty dict before the store exists)."""
        path = self.data / "search.sqlite3"
        if not path.exists():
            return {}
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT d.id, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid").fetchall()
        except sqlite3.OperationalError:
            return {}  # schema not created yet
        finally:
            conn.close()
        return {doc_id: json.loads(body) for doc_id, body in rows}

    def counts(self) -> dict[str, Any]:
        try:
            return json.loads((self.data / "stats" / "worker.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"counts": {}, "gauges": {}}

    def count(self, name: str) -> int:
        return int(self.counts()["counts"].get(name, 0))

    def dead_letters(self) -> list[dict[str, Any]]:
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, consumer_timeout_ms=2500)
        try:
            consumer.assign([TopicPartition(TOPIC_DLQ, 0)])
            consumer.seek_to_beginning()
            return [json.loads(message.value) for message in consumer]
        finally:
            consumer.close()

    def wait_indexed(self, ids: set[str], timeout: float) -> dict[str, dict[str, Any]]:
        def all_there() -> dict[str, dict[str, Any]] | None:
            docs = self.docs()
            return docs if ids <= docs.keys() else None

        return wait_for(all_there, timeout, f"{len(ids)} documents indexed", self.alive, self.explain)

    def explain(self) -> str:
        """What the newest worker says: its counters and the tail of its log (for a failure message)."""
        log = self.log(len(self.workers) - 1)
        on_raw = self.topic_count(TOPIC_RAW)
        return (f"{len(self.docs())} documents; {on_raw} messages on {TOPIC_RAW}; worker counters {self.counts()}"
                f"\nnewest worker log:\n{log[-4000:]}")  # fmt: skip

    def topic_count(self, topic: str) -> int:
        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, consumer_timeout_ms=2500)
        try:
            consumer.assign([TopicPartition(topic, 0)])
            consumer.seek_to_beginning()
            return sum(1 for _ in consumer)
        finally:
            consumer.close()


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)


def corpus(count: int, seed: int) -> list[RawArticle]:
    """Distinct ~1.5 KB Arabic articles (fetched_at fixed, so a replayed copy is the same record)."""
    return build(count, target_bytes=1500, seed=seed)


def reference(articles: list[RawArticle]) -> tuple[set[str], set[str]]:
    """(documents, folded duplicates) that a fault-free run makes of ``articles``: the offline chain, in order."""
    chain = ArticleChain()
    originals: set[str] = set()
    folded: set[str] = set()
    for raw in articles:
        try:
            article = chain.process(raw)
        except (Dropped, PermanentError):
            continue
        (originals if article.dedup.status == "unique" else folded).add(article.id)
    return originals, folded


def content(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def assert_indexed_once(docs: dict[str, dict[str, Any]], originals: set[str], folded: Iterable[str] = ()) -> None:
    """Exactly the originals are documents; each folded duplicate sits in one original's reported_by, once."""
    assert set(docs) == originals, f"missing {originals - set(docs)}, unexpected {set(docs) - originals}"
    reporters = Counter(entry["id"] for doc in docs.values() for entry in doc["reported_by"])
    assert set(reporters) == set(folded) and all(n == 1 for n in reporters.values()), reporters


def all_folded(docs: dict[str, dict[str, Any]], folded: set[str]) -> bool:
    return folded <= {entry["id"] for doc in docs.values() for entry in doc["reported_by"]}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterable[Pipeline]:
    with Pipeline(tmp_path / "data") as running:
        yield running


# ---------------------------------------------------------------------------------------------------------------
def mixed_input(pipeline: Pipeline) -> dict[str, Any]:
    """Unique articles, exact duplicates under other URLs, expected drops, and poison on every topic."""
    unique = corpus(20, seed=11)
    duplicates = []
    for i, original in enumerate(unique[:3]):
        url = f"https://copies.example/{i}"
        duplicates.append(original.model_copy(update={"id": article_id(url), "url": url, "source": "copier"}))
    english = "The minister said on Monday that talks would resume next week in the capital. " * 6
    not_arabic = [RawArticle(id=article_id(f"https://en.example/{i}"), url=f"https://en.example/{i}", source="en",
                             title="Talks resume", text=english) for i in range(2)]  # fmt: skip
    too_short = [RawArticle(id=article_id(f"https://short.example/{i}"), url=f"https://short.example/{i}",
                            source="short", title="خبر", text="قصف في غزة.") for i in range(2)]  # fmt: skip
    pipeline.send([*unique, *duplicates, *not_arabic, *too_short])
    poison = {
        TOPIC_RAW: [b"\x00not json {", b'{"id": 7, "url": null}'],
        TOPIC_ARTICLES: [b"]][[", unique[0].to_json()],  # a raw record is the wrong schema for articles
        TOPIC_ENRICHED: [b"", b'{"id": "x", "title": "\xd8\xba"}'],
    }
    for topic, values in poison.items():
        for value in values:
            pipeline.send_bytes(topic, b"poison", value)
    pipeline.flush()
    return {"unique": unique, "duplicates": duplicates, "dropped": not_arabic + too_short, "poison": poison}


def test_every_article_is_accounted_for_and_replay_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.start_worker()
    sent = mixed_input(pipeline)
    unique_ids = {a.id for a in sent["unique"]}
    duplicate_ids = {a.id for a in sent["duplicates"]}
    entering = len(sent["unique"]) + len(sent["duplicates"]) + len(sent["dropped"]) + 2  # + 2 raw poison

    wait_for(lambda: pipeline.count("index.out") >= 23 and pipeline.count("index.dead_letter") + pipeline.count(
        "parse.dead_letter") >= 6, 120, "every article through every stage", pipeline.alive)  # fmt: skip
    docs = pipeline.docs()
    assert_indexed_once(docs, unique_ids, duplicate_ids)
    counts = pipeline.counts()["counts"]
    assert counts["extract.in"] == entering
    assert counts["extract.dropped.not_arabic"] == 2 and counts["extract.dropped.too_short"] == 2
    assert counts["dedup.unique"] == 20 and counts["dedup.duplicate"] == 3
    assert counts["index.out"] == 23  # 20 documents + 3 duplicates folded into them
    letters = pipeline.dead_letters()
    assert sorted(letter["topic"] for letter in letters) == sorted(t for t, v in sent["poison"].items() for _ in v)
    assert all(letter["stage"] == "parse" and letter["reason"] and letter["error_type"] for letter in letters)
    assert counts["parse.dead_letter"] == len(letters) == 6
    # the books balance: every raw message is indexed, folded, dropped or dead-lettered
    dropped = sum(n for k, n in counts.items() if k.startswith("extract.dropped."))
    raw_letters = sum(letter["topic"] == TOPIC_RAW for letter in letters)
    assert len(docs) + len(duplicate_ids) + dropped + raw_letters == entering

    # redelivery: every valid raw message again (from the topic, as `akhbar replay --from-topic` does)
    replayed = republish(pipeline.broker.bootstrap, from_topic(pipeline.broker.bootstrap, set()))
    assert replayed == entering - 2  # the poison messages are not replayed
    wait_for(lambda: pipeline.count("extract.in") >= 2 * entering - 2 and pipeline.count("index.out") >= 46,
             90, "the replay processed", pipeline.alive)  # fmt: skip
    time.sleep(2)  # a straggler batch would show up now
    after = pipeline.docs()
    assert_indexed_once(after, unique_ids, duplicate_ids)
    assert {k: content(v) for k, v in after.items()} == {k: content(v) for k, v in docs.items()}
    assert len(pipeline.dead_letters()) == 6
    # the worker kept each letter on disk too (the embedded broker's copy dies with it), and none of these
    # poison messages would be redriven into the pipeline again
    kept = list(read_letters(pipeline.data / "dead-letters"))
    assert sorted((x.topic, x.offset, x.payload) for x in kept) == sorted(
        (x["topic"], x["offset"], x["payload"]) for x in letters
    )
    assert redrive(None, kept).sent == {}


def test_locked_store_holds_the_backlog_until_released(pipeline: Pipeline) -> None:
    pipeline.start_worker()
    warmup = corpus(5, seed=21)
    pipeline.send(warmup)
    pipeline.wait_indexed({a.id for a in warmup}, 90)

    lock = sqlite3.connect(pipeline.data / "search.sqlite3", timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # the sink is unavailable: its writes fail with "database is locked"
    try:
        backlog = corpus(60, seed=22)
        pipeline.send(backlog)
        # the store's busy timeout is 10 s: the index agent then reports the wait and retries the same batch
        wait_for(lambda: pipeline.count("index.retry") >= 1, 45, "the index agent retrying", pipeline.alive)
        assert "locked" in (pipeline.counts()["gauges"].get("index.waiting") or "")
        assert lock.execute("SELECT count(*) FROM docs").fetchone()[0] == len(warmup)
        assert pipeline.count("index.out") == len(warmup)  # nothing acked as indexed meanwhile
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    docs = pipeline.wait_indexed({a.id for a in backlog}, 60)
    time.sleep(1.5)  # a doubled batch would show up in the counters now
    assert_indexed_once(pipeline.docs(), *reference([*warmup, *backlog]))
    assert len(docs) == 65 and pipeline.count("index.out") == 65
    assert pipeline.counts()["gauges"].get("index.waiting") is None
    assert pipeline.dead_letters() == []


def test_worker_killed_mid_stream_loses_and_doubles_nothing(pipeline: Pipeline) -> None:
    first = pipeline.start_worker()
    articles = corpus(300, seed=31)
    originals, folded = reference(articles)  # the recombined corpus holds a few chance near-duplicates
    # kill while batches are in flight: some indexed, most not (offsets of the work in hand are not committed).
    # A first part, indexed, then the rest, taken in: the kill comes while the worker holds it (the stats file
    # it counts by is written every second, when a few seconds' work is left).
    pipeline.send(articles[:50])
    wait_for(lambda: len(pipeline.docs()) > 0, 90, "indexing under way", pipeline.alive)
    pipeline.send(articles[50:])
    wait_for(lambda: pipeline.count("extract.in") > 50, 30, "the rest taken in", pipeline.alive)
    pipeline.halt(first, signal.SIGKILL)
    indexed_at_kill = len(pipeline.docs())
    assert indexed_at_kill < len(articles)

    second = pipeline.start_worker()
    pipeline.wait_indexed(originals, 150)
    wait_for(lambda: all_folded(pipeline.docs(), folded), 30, "duplicates folded", pipeline.alive)
    time.sleep(1.5)
    # the same documents and the same duplicate decisions as a run without the kill
    assert_indexed_once(pipeline.docs(), originals, folded)

    # now exactly inside a batch: the index agent holds a batch it cannot write (store locked) when it dies
    later = corpus(30, seed=32)
    originals, folded = reference([*articles, *later])
    lock = sqlite3.connect(pipeline.data / "search.sqlite3", timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        pipeline.send(later)
        wait_for(lambda: pipeline.count("index.in") > pipeline.count("index.out"), 60, "a batch in the sink",
                 pipeline.alive)  # fmt: skip
        pipeline.halt(second, signal.SIGKILL)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    pipeline.start_worker()
    pipeline.wait_indexed(originals, 90)
    wait_for(lambda: all_folded(pipeline.docs(), folded), 30, "duplicates folded", pipeline.alive)
    time.sleep(1.5)
    assert_indexed_once(pipeline.docs(), originals, folded)
    assert pipeline.dead_letters() == []


def test_a_restarted_worker_remembers_the_last_articles_it_judged(pipeline: Pipeline) -> None:
    """Copies of every article sent before a restart are folded, those judged last too: their table state is the
    tail of the changelog's last record batch, which Tansu's end offset leaves out (pipeline/faust_fixes.py)."""
    first = pipeline.start_worker()
    articles = corpus(40, seed=51)
    originals, _ = reference(articles)
    pipeline.send(articles)
    pipeline.wait_indexed(originals, 90)
    time.sleep(2)  # the table writes of the last batch sent
    pipeline.halt(first)
    copies = []
    for n, original in enumerate(a for a in articles if a.id in originals):
        url = f"https://copies.example/restart/{n}"
        copies.append(original.model_copy(update={"id": article_id(url), "url": url, "source": "copier"}))
    pipeline.start_worker()
    pipeline.send(copies)
    folded = {copy.id for copy in copies}
    wait_for(lambda: all_folded(pipeline.docs(), folded) or None, 120, "copies folded", pipeline.alive,
             lambda: f"new documents: {sorted(set(pipeline.docs()) - originals)}")  # fmt: skip
    assert set(pipeline.docs()) == originals


def test_a_worker_over_a_changelog_its_group_never_committed_indexes_everything(pipeline: Pipeline) -> None:
    """After a broker rotation the tables' changelog is rewritten but the group has committed nothing there yet. A
    worker starting then recovered, reported ready, and indexed nothing: the fetch in flight as its recovery ended
    drained the paused raw partition (faust_fixes.fetch_records)."""
    specs = worker_topic_specs(Settings(data_dir=pipeline.data))
    ensure_topics(pipeline.broker.bootstrap, specs)
    changelog = next(spec.name for spec in specs if DEDUP_TABLE in spec.name)
    producer = KafkaProducer(bootstrap_servers=pipeline.broker.bootstrap)
    for n in range(9):  # entries under a key prefix the dedup store ignores: what matters is that there is a recovery
        producer.send(changelog, key=json.dumps(f"x:{n}").encode(), value=json.dumps({"t": 1.0}).encode(), partition=0)
    producer.flush(10)
    producer.close()
    articles = corpus(6, seed=61)
    originals, _ = reference(articles)
    pipeline.send(articles)
    pipeline.start_worker()
    pipeline.wait_indexed(originals, 45)
    assert pipeline.dead_letters() == []


def test_second_worker_joining_and_leaving_leaves_the_index_unchanged(pipeline: Pipeline) -> None:
    articles, more, last = corpus(40, seed=41), corpus(40, seed=42), corpus(10, seed=43)
    originals, folded = reference([*articles, *more, *last])
    pipeline.start_worker()
    pipeline.send(articles)
    before = pipeline.wait_indexed(originals & {a.id for a in articles}, 90)
    time.sleep(1.5)

    # a second worker (same group, same store) joins: partitions move, the last batches are redelivered
    second = pipeline.start_worker(pipeline.data)
    wait_for(lambda: "Worker ready" in pipeline.log(1) and pipeline.assignments(0) >= 2, 90,
             "the second worker in the group", pipeline.alive)  # fmt: skip
    pipeline.send(more)
    wait_for(lambda: originals & {a.id for a in more} <= pipeline.docs().keys(), 90,
             "articles indexed while two workers share the group", pipeline.alive)  # fmt: skip
    pipeline.halt(second)  # it leaves: its partitions come back to the first worker
    wait_for(lambda: pipeline.assignments(0) >= 3, 60, "the first worker reassigned", pipeline.alive)
    pipeline.send(last)
    pipeline.wait_indexed(originals, 90)
    wait_for(lambda: all_folded(pipeline.docs(), folded), 30, "duplicates folded", pipeline.alive)
    time.sleep(2)
    after = pipeline.docs()
    assert_indexed_once(after, originals, folded)
    assert {k: content(after[k]) for k in before} == {k: content(v) for k, v in before.items()}
    assert pipeline.dead_letters() == []


def test_rocksdb_table_store_deduplicates_and_persists(tmp_path: Path) -> None:
    """The production table store (compose runs rocksdb://, backed by rocksdict) under a real worker: its state
    is on disk, reprints are folded, and still are after a restart over it. That restart crashed with Faust's
    ConsistencyError until the changelog ends were corrected (Tansu's ListOffsets under-reports them, so the
    persisted offset looked newer than the topic; pipeline/faust_fixes.py)."""
    with Pipeline(tmp_path / "data", AKHBAR_TABLE_STORE="rocksdb://") as pipeline:
        originals = corpus(15, seed=51)
        copies = [
            a.model_copy(
                update={
                    "id": article_id(f"https://copies.example/{i}"),
                    "url": f"https://copies.example/{i}",
                    "source": "copier",
                }
            )
            for i, a in enumerate(originals[:5])
        ]
        first = pipeline.start_worker()
        pipeline.send(originals)
        pipeline.wait_indexed({a.id for a in originals}, 90)
        pipeline.send(copies)
        wait_for(lambda: all_folded(pipeline.docs(), {a.id for a in copies}), 90, "reprints folded", pipeline.alive,
                 pipeline.explain)  # fmt: skip
        assert_indexed_once(pipeline.docs(), {a.id for a in originals}, {a.id for a in copies})
        assert list((pipeline.data / "faust").rglob("CURRENT")), "RocksDB files under the Faust data directory"
        pipeline.halt(first)
        later = [a.model_copy(update={"id": article_id(f"https://later.example/{i}"), "url": f"https://later.example/{i}",
                                      "source": "copier"}) for i, a in enumerate(originals[5:10])]  # fmt: skip
        pipeline.start_worker()
        pipeline.send(later)
        folded = {a.id for a in [*copies, *later]}
        wait_for(lambda: all_folded(pipeline.docs(), folded), 90, "reprints folded after a restart", pipeline.alive,
                 pipeline.explain)  # fmt: skip
        assert_indexed_once(pipeline.docs(), {a.id for a in originals}, folded)


class ElasticsearchThread:
    """The documented-API fake Elasticsearch (tests/unit/pipeline/sinks/fake_es.py) served from a thread, on a
    port chosen up front, so that it can be absent (connections refused) before it starts."""

    def __init__(self) -> None:
        from tests.unit.pipeline.sinks.fake_es import FakeElasticsearch

        self.fake = FakeElasticsearch()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> None:
        async def start() -> None:
            self.runner = web.AppRunner(self.fake.app())
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def ids(self) -> list[str]:
        """Every document id in the akhbar indices (a list: an id twice would show)."""

        async def read() -> list[str]:
            return [
                doc_id for index, docs in self.fake.indices.items() if index.startswith("akhbar") for doc_id in docs
            ]

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)

    def close(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_elasticsearch_refusing_then_overloaded_loses_and_doubles_nothing(tmp_path: Path) -> None:
    elasticsearch = ElasticsearchThread()
    try:
        with Pipeline(tmp_path / "data", AKHBAR_ELASTICSEARCH_URL=elasticsearch.url) as pipeline:
            first, second = corpus(30, seed=61), corpus(30, seed=62)
            pipeline.start_worker()
            pipeline.send(first)
            # nothing listens yet: the index agent holds its batch and retries, acking nothing
            wait_for(lambda: pipeline.count("index.retry") >= 2, 60, "the index agent retrying", pipeline.alive)
            assert pipeline.count("index.out") == 0
            elasticsearch.serve()
            originals, _ = reference(first)
            wait_for(lambda: originals <= set(elasticsearch.ids()), 90, "the backlog indexed", pipeline.alive,
                     pipeline.explain)  # fmt: skip
            # now overloaded: whole requests answered 503 and 429 for a while
            elasticsearch.fake.request_failures.extend([503, 429, 503, 503])
            pipeline.send(second)
            originals, _ = reference([*first, *second])
            wait_for(lambda: originals <= set(elasticsearch.ids()), 90, "the second burst indexed", pipeline.alive,
                     pipeline.explain)  # fmt: skip
            time.sleep(1.5)
            ids = elasticsearch.ids()
            assert sorted(ids) == sorted(originals), "every original once, nothing else"
            assert not elasticsearch.fake.request_failures, "the injected failures were all met"
            assert pipeline.dead_letters() == []
    finally:
        elasticsearch.close()
