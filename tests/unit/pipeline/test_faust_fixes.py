"""The Faust fixes (pipeline/faust_fixes.py): the recovery's order, fetches over a snapshot of the active partitions,
the changelog ends. End to end: the fault tests (second worker, restarts over a changelog)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import faust
from faust.tables.recovery import Recovery
from faust.transport.consumer import ThreadDelegateConsumer
from faust.types import TP
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline import faust_fixes
from pipeline.broker import EmbeddedBroker
from pipeline.faust_fixes import on_recovery_completed
from pipeline.topics import TopicSpec, ensure_topics


class Calls(list[str]):
    def record(self, name: str, result: Any = None) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.append(name)
            return result

        return call


class FakeRecovery:
    """Just what the recovery step touches, each call recorded in order."""

    def __init__(self, generation: int = 3) -> None:
        calls = self.calls = Calls()
        self.log = type("Log", (), {"info": calls.record("log"), "warning": calls.record("warning")})()
        self.tables = type("Tables", (), {"values": lambda _: [], "on_actives_ready": calls.record("actives_ready"),
                                          "on_standbys_ready": calls.record("standbys_ready")})()  # fmt: skip
        self.actives_for_table: dict[Any, Any] = {}
        self.standbys_for_table: dict[Any, Any] = {}
        self.completed = type("Ev", (), {"set": calls.record("completed")})()
        self._set_recovery_ended = calls.record("ended")
        self._is_changelog_tp = lambda tp: tp.endswith("-changelog")
        self.app = self._app(generation)

    def _app(self, generation: int) -> Any:
        calls = self.calls

        async def seek() -> None:
            calls.append("seek")

        async def send() -> None:
            calls.append("rebalance_complete")

        async def maybe_start() -> None:
            calls.append("fetcher_start")

        consumer = type("Consumer", (), {
            "assignment": lambda _: {"news.raw.v1", "dedup-state-changelog"},
            "perform_seek": lambda _: seek(),
            "resume_flow": calls.record("resume_flow"),
            "resume_partitions": lambda _, tps: calls.append(f"resume_partitions:{sorted(tps)}"),
        })()  # fmt: skip
        return type("App", (), {
            "consumer": consumer, "consumer_generation_id": generation,
            "on_rebalance_complete": type("Sig", (), {"send": lambda _: send()})(),
            "flow_control": type("Flow", (), {"resume": calls.record("flow_resume_clears_queues")})(),
            "conf": type("Conf", (), {"broker_request_timeout": 5.0})(),
            "_fetcher": type("Fetcher", (), {"maybe_start": lambda _: maybe_start()})(),
            "assignor": type("Assignor", (), {"assigned_standbys": lambda _: set()})(),
            "on_rebalance_end": calls.record("rebalance_end"),
        })()  # fmt: skip

    async def _wait(self, coro: Any, **_: Any) -> Any:
        return await coro


def test_stream_partitions_resume_only_after_the_seek_and_the_queue_clearing() -> None:
    recovery = FakeRecovery(generation=3)
    asyncio.run(on_recovery_completed(recovery, generation_id=3))
    calls = recovery.calls
    seek, clear = calls.index("seek"), calls.index("flow_resume_clears_queues")
    resume = calls.index("resume_partitions:['news.raw.v1']")  # changelog partitions stay with the recovery
    assert seek < clear < resume < calls.index("fetcher_start")
    assert calls[-1] == "log" and "rebalance_end" in calls


def test_a_newer_generation_stops_the_step_before_anything_resumes() -> None:
    recovery = FakeRecovery(generation=4)
    asyncio.run(on_recovery_completed(recovery, generation_id=3))
    assert "warning" in recovery.calls
    assert not any(call.startswith(("resume", "flow_resume", "seek")) for call in recovery.calls)


def test_apply_installs_the_fixes_on_the_pinned_minor_only(monkeypatch: Any) -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    monkeypatch.setattr(Recovery, "on_recovery_completed", Recovery.on_recovery_completed)  # undone after the test
    monkeypatch.setattr(ThreadDelegateConsumer, "highwaters", ThreadDelegateConsumer.highwaters)
    monkeypatch.setattr(AIOKafkaConsumerThread, "_fetch_records", AIOKafkaConsumerThread._fetch_records)
    made = type("Consumer", (), {"_fetch_max_wait_ms": 1500})
    monkeypatch.setattr(AIOKafkaConsumerThread, "_akhbar_upstream_create", lambda self, *a, **k: made(), raising=False)
    monkeypatch.setattr(
        AIOKafkaConsumerThread, "_create_worker_consumer", AIOKafkaConsumerThread._create_worker_consumer
    )
    assert faust.__version__.startswith(faust_fixes.FIXED_MINOR)
    assert faust_fixes.apply(fetch_max_wait_ms=80) is True
    assert Recovery.on_recovery_completed is on_recovery_completed
    assert AIOKafkaConsumerThread._fetch_records is faust_fixes.fetch_records
    assert ThreadDelegateConsumer.highwaters is faust_fixes.highwaters
    consumer = AIOKafkaConsumerThread._create_worker_consumer(object())  # type: ignore[arg-type]
    assert consumer._fetch_max_wait_ms == 80  # Faust's hard-coded 1500 ms replaced before the consumer starts
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    monkeypatch.setattr(Recovery, "on_recovery_completed", "upstream")
    assert faust_fixes.apply() is False and Recovery.on_recovery_completed == "upstream"


def test_changelog_ends_are_read_past_tansus_answer(tmp_path: Any) -> None:
    """Tansu answers ListOffsets with the last batch's base offset + 1; the recovery needs the offset after it."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        ensure_topics(broker.bootstrap, [TopicSpec("changelog", 2, 0, compacted=True)])
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=50)
        for batch in range(3):  # three record batches of ten
            for n in range(10):
                producer.send("changelog", f"{batch}.{n}".encode(), partition=0)
            producer.flush(10)
        producer.close()
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
        answered = consumer.end_offsets([TopicPartition("changelog", 0)])[TopicPartition("changelog", 0)]
        consumer.close()
        full, empty = TP("changelog", 0), TP("changelog", 1)
        assert faust_fixes.true_ends(broker.bootstrap, {full: answered, empty: 0}) == {full: 30, empty: 0}
        assert faust_fixes.true_ends(broker.bootstrap, {full: 30}) == {full: 30}  # a right answer stays


def test_highwaters_corrects_upstreams_answer_or_keeps_it(monkeypatch: Any) -> None:
    tp = TP("changelog", 0)

    async def upstream(*partitions: Any) -> dict[Any, int]:
        return {tp: 21}

    url = type("Url", (), {"host": "127.0.0.1", "port": 9})()
    consumer = type("C", (), {"_akhbar_upstream_highwaters": staticmethod(upstream),
                              "app": type("A", (), {"conf": type("S", (), {"broker": [url]})()})()})()  # fmt: skip
    asked: list[str] = []

    def corrected(bootstrap: str, ends: Any) -> dict[Any, int]:
        asked.append(bootstrap)
        return {tp: 30}

    monkeypatch.setattr(faust_fixes, "true_ends", corrected)
    assert asyncio.run(faust_fixes.highwaters(consumer, tp)) == {tp: 30} and asked == ["127.0.0.1:9"]

    def unreachable(bootstrap: str, ends: Any) -> Any:
        raise OSError("connection refused")

    monkeypatch.setattr(faust_fixes, "true_ends", unreachable)
    assert asyncio.run(faust_fixes.highwaters(consumer, tp)) == {tp: 21}  # the recovery goes on, as upstream


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class FakeAIOKafka:
    """aiokafka's consumer as ``fetch_records`` sees it: its fetcher reads an empty partition set as every partition
    (as aiokafka's does), and ``during_wait`` runs while it waits, as the app's thread runs meanwhile."""

    def __init__(self, buffered: dict[TP, list[int]], during_wait: Any = lambda: None) -> None:
        self.buffered, self.during_wait = buffered, during_wait
        self.asked: list[frozenset[TP]] = []
        self.seeks: list[tuple[TP, int]] = []
        self._closed = False
        self._fetcher = self
        self._subscriptions = self
        self._subscription = self

    @contextlib.contextmanager
    def fetch_context(self) -> Iterator[None]:
        yield

    def is_assigned(self, tp: TP) -> bool:
        return tp in self.buffered

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def fetched_records(self, partitions: Any, **limits: Any) -> Any:
        self.asked.append(frozenset(partitions))
        self.during_wait()
        wanted = [tp for tp in self.buffered if not partitions or tp in partitions]
        return {tp: [Record(offset) for offset in self.buffered[tp]] for tp in wanted}


RAW, CHANGELOG = TP("news.raw.v1", 0), TP("dedup-changelog", 0)


def app_consumer(active: set[TP]) -> Any:
    return type("Consumer", (), {"flow_active": True, "_active_partitions": active, "_buffered_partitions": set()})()


def fetch(kafka: FakeAIOKafka, consumer: Any) -> Any:
    thread = type("Thread", (), {"consumer": consumer})()
    return asyncio.run(faust_fixes.fetch_records(thread, kafka, consumer._active_partitions, timeout=1.0))


def test_a_fetch_over_no_active_partition_takes_nothing() -> None:
    kafka = FakeAIOKafka({RAW: [0, 1, 2]})
    assert fetch(kafka, app_consumer(set())) == {} and kafka.asked == [] and kafka.seeks == []


def test_the_end_of_a_recovery_does_not_drain_the_paused_stream_partitions() -> None:
    """The case that stalled a worker: the active set emptied while a fetch for the changelog waited."""
    active = {CHANGELOG}
    kafka = FakeAIOKafka({RAW: [0, 1, 2]}, during_wait=active.clear)
    assert fetch(kafka, app_consumer(active)) == {} and kafka.asked == [frozenset({CHANGELOG})]
    assert kafka.seeks == []  # never handed out, so nothing to rewind


def test_records_of_a_partition_paused_during_the_wait_are_rewound() -> None:
    active = {RAW, CHANGELOG}
    kafka = FakeAIOKafka({RAW: [5, 6], CHANGELOG: [9]}, during_wait=lambda: active.discard(RAW))
    taken = fetch(kafka, app_consumer(active))
    assert {tp: [r.offset for r in records] for tp, records in taken.items()} == {CHANGELOG: [9]}
    assert kafka.seeks == [(RAW, 5)]  # read again from its first unhanded record once it resumes


def test_records_of_active_partitions_are_returned_untouched() -> None:
    kafka = FakeAIOKafka({RAW: [0, 1]})
    taken = fetch(kafka, app_consumer({RAW}))
    assert [r.offset for r in taken[RAW]] == [0, 1] and kafka.seeks == []
