"""The recovery-order fix: the seek happens while stream partitions are paused, and the queues are cleared before
anything is fetched into them (pipeline/faust_fixes.py; the end-to-end check is the second-worker fault test)."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.tables.recovery import Recovery

from pipeline import faust_fixes
from pipeline.faust_fixes import on_recovery_completed


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
    made = type("Consumer", (), {"_fetch_max_wait_ms": 1500})
    monkeypatch.setattr(AIOKafkaConsumerThread, "_akhbar_upstream_create", lambda self, *a, **k: made(), raising=False)
    monkeypatch.setattr(
        AIOKafkaConsumerThread, "_create_worker_consumer", AIOKafkaConsumerThread._create_worker_consumer
    )
    assert faust.__version__.startswith(faust_fixes.FIXED_MINOR)
    assert faust_fixes.apply(fetch_max_wait_ms=80) is True
    assert Recovery.on_recovery_completed is on_recovery_completed
    consumer = AIOKafkaConsumerThread._create_worker_consumer(object())  # type: ignore[arg-type]
    assert consumer._fetch_max_wait_ms == 80  # Faust's hard-coded 1500 ms replaced before the consumer starts
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    monkeypatch.setattr(Recovery, "on_recovery_completed", "upstream")
    assert faust_fixes.apply() is False and Recovery.on_recovery_completed == "upstream"
