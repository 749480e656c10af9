"""Quiet batching (pipeline/batching.py): a batch closes when its stream goes quiet, fills, or ages; its events
are acked only once the next batch is asked for; nothing joins a batch that is being handled. Overlapped stages
start the next batch while routing the one before, route in order, and ack a batch only once it is routed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pipeline.batching import overlapped, take_quiet


class FakeStream:
    """What take_quiet touches of a Faust stream; ``feed`` does what the stream's drainer does per event."""

    def __init__(self) -> None:
        self.enable_acks = True
        self.should_stop = False
        self.current_event: Any = None
        self._processors: list[Any] = []
        self.acked: list[int] = []
        self.channel = self

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> int:
        raise StopAsyncIteration  # the test feeds the processors itself (``feed``)

    def add_processor(self, processor: Any) -> None:
        self._processors.append(processor)

    def _enable_passive(self, channel: Any) -> None:
        assert channel is self  # the stream's own channel is drained in the background

    async def feed(self, *events: int) -> None:
        for event in events:
            self.current_event = event
            for processor in self._processors:
                await processor(event)

    async def wait_for_stopped(self, event: asyncio.Event, timeout: float) -> bool:  # noqa: ASYNC109 (Faust's signature)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return self.should_stop

    async def ack(self, event: int) -> None:
        self.acked.append(event)


def collect(
    stream: FakeStream, total: int, limits: tuple[int, float, float], feeding: Any, linger: float = 0.0
) -> list[Any]:
    """Run ``feeding(stream)`` against a consumer; each batch comes with what was acked when it was handed over."""
    seen: list[tuple[list[int], list[int]]] = []
    max_, within, quiet = limits

    async def consume() -> None:
        async with contextlib.aclosing(take_quiet(stream, max_, within, quiet, linger)) as batches:
            async for batch in batches:
                seen.append((list(batch), list(stream.acked)))
                await asyncio.sleep(0.05)  # handling takes a while: the feeder must wait, not add to this batch
                if sum(len(b) for b, _ in seen) >= total:
                    break

    async def main() -> None:
        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)  # the consumer installs its processor
        await feeding(stream)
        await asyncio.wait_for(consumer, 30)

    asyncio.run(main())
    return seen


def test_a_batch_closes_when_the_stream_goes_quiet_not_after_within():
    async def two_bursts(stream: FakeStream) -> None:
        await stream.feed(0, 1, 2)
        await asyncio.sleep(1.0)  # far longer than quiet; far shorter than within
        await stream.feed(3, 4, 5, 6)

    stream = FakeStream()
    seen = collect(stream, 7, (100, 60.0, 0.05), two_bursts)
    assert [batch for batch, _ in seen] == [[0, 1, 2], [3, 4, 5, 6]]
    assert [acked for _, acked in seen] == [[], [0, 1, 2]]  # a batch is acked once handled, not before
    assert stream.acked == list(range(7)) and stream.enable_acks and stream._processors == []


def test_a_full_batch_closes_at_once_and_the_drainer_waits_while_it_is_handled():
    async def one_burst(stream: FakeStream) -> None:
        await stream.feed(*range(7))

    stream = FakeStream()
    seen = collect(stream, 7, (3, 60.0, 0.2), one_burst)  # the burst never pauses: fullness closes all but the last
    assert [batch for batch, _ in seen] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [acked for _, acked in seen] == [[], [0, 1, 2], [0, 1, 2, 3, 4, 5]]


def test_a_steady_stream_is_cut_within_seconds_after_a_batch_starts():
    async def trickle(stream: FakeStream) -> None:
        for event in range(40):
            await stream.feed(event)
            await asyncio.sleep(0.01)  # never quiet for 5 s

    stream = FakeStream()
    seen = collect(stream, 40, (1000, 0.1, 5.0), trickle)
    batches = [batch for batch, _ in seen]
    assert len(batches) >= 2 and [e for batch in batches for e in batch] == list(range(40))


def test_a_lingering_batch_takes_in_what_comes_within_its_linger_despite_a_pause():
    async def two_bursts(stream: FakeStream) -> None:
        await stream.feed(0, 1)
        await asyncio.sleep(0.2)  # quiet would close the batch here; the linger keeps it open
        await stream.feed(2, 3)

    stream = FakeStream()
    seen = collect(stream, 4, (100, 60.0, 0.05), two_bursts, linger=3.0)
    assert [batch for batch, _ in seen] == [[0, 1, 2, 3]]


def run_overlapped(feeding: Any, total: int, route_seconds: float) -> tuple[FakeStream, list[tuple[str, Any]]]:
    """An overlapped stage over batches of 2: ``start`` hands a batch to a 'pool' (a task), ``finish`` waits for
    it and takes ``route_seconds`` to route it; every step is logged, acks included."""
    stream, log = FakeStream(), []

    async def start(events: list[int]) -> Any:
        log.append(("start", list(events)))
        return asyncio.ensure_future(asyncio.sleep(0.05, result=list(events)))

    async def finish(batch: list[int], pooled: Any) -> None:
        events = await pooled
        assert events == batch
        await asyncio.sleep(route_seconds)
        log.append(("routed", events))

    all_acked = asyncio.Event()

    async def ack(event: int) -> None:
        log.append(("ack", event))
        await stream.ack(event)
        if len(stream.acked) >= total:
            all_acked.set()

    async def main() -> None:
        batches = take_quiet(stream, 2, 0.5, 0.05, ack=False)  # within: how soon it notices the stop
        stage = asyncio.ensure_future(overlapped(batches, start, finish, ack))
        await asyncio.sleep(0)
        await feeding(stream)
        await asyncio.wait_for(all_acked.wait(), 30)
        stream.should_stop = True
        await asyncio.wait_for(stage, 30)

    asyncio.run(main())
    return stream, log


def test_an_overlapped_stage_starts_the_next_batch_while_routing_and_acks_each_batch_once_routed():
    async def one_burst(stream: FakeStream) -> None:
        await stream.feed(*range(6))

    stream, log = run_overlapped(one_burst, 6, route_seconds=0.2)
    assert [step for step in log if step[0] == "routed"] == [("routed", [0, 1]), ("routed", [2, 3]), ("routed", [4, 5])]
    assert log.index(("start", [2, 3])) < log.index(("routed", [0, 1]))  # the pool had the next batch meanwhile
    for event in range(6):  # never acked before its batch was routed
        batch = [event - event % 2, event - event % 2 + 1]
        assert log.index(("routed", batch)) < log.index(("ack", event))
    assert stream.acked == list(range(6)) and stream.enable_acks


def test_an_overlapped_stage_routes_a_lone_batch_without_waiting_for_another():
    async def one_article(stream: FakeStream) -> None:
        await stream.feed(7)

    _, log = run_overlapped(one_article, 1, route_seconds=0.0)  # would hang if routing waited for a next batch
    assert log == [("start", [7]), ("routed", [7]), ("ack", 7)]
