"""Batching: each agent's events in batches that close as soon as its stream goes quiet (take_events, retimed).

Faust's ``Stream.take_events(n, within)`` waits ``within`` from the moment it starts waiting, however early the
events came: with the index agent's ``within`` of 1 s, every article waited up to a second for its batch even at
low load (most of the pipeline's latency there). Here a batch closes when it holds ``max_`` events, when a
``quiet``-long look (after ``linger``) saw no new event, or ``within`` after its first event. Under load the
store's batching is kept: events arriving while a batch is handled queue in the stream and make the next batch;
at low load a batch is what came within ``linger``, closed a few tens of milliseconds later.

Acks are those of ``take_events``: a batch's events are acked when the caller asks for the next batch (or
leaves the loop), never before it has handled them, so a commit covers only handled events (at-least-once).
While a batch is out, the stream's drainer waits: no event is taken into a batch that is already being handled.
With ``ack=False`` the caller acks (``overlapped``: a stage starts its next batch in the CPU pool while it
routes the one before, and acks each batch once routed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import faust


async def take_quiet(
    stream: Any, max_: int, within: float, quiet: float, linger: float = 0.0, ack: bool = True
) -> AsyncIterator[list[faust.EventT]]:
    """Batches of up to ``max_`` events of ``stream``; a batch at least ``linger`` seconds old closes once a
    ``quiet``-long look saw nothing come, and any batch ``within`` seconds after its first event. Without
    ``ack``, the caller acks every event it was given."""
    buffer: list[faust.EventT] = []
    arrived = asyncio.Event()  # set by the first event of a batch (and the later ones)
    full = asyncio.Event()
    room = asyncio.Event()  # clear while the buffer is full or its batch is being handled
    room.set()

    async def add_to_buffer(value: Any) -> Any:
        while not room.is_set():
            await room.wait()
        event = stream.current_event
        if event is None:
            raise RuntimeError("take_quiet found no current event")
        buffer.append(event)  # no await between the check of room and here: a batch out gets nothing new
        arrived.set()
        if len(buffer) >= max_:
            room.clear()
            full.set()
        return value

    enable_acks = stream.enable_acks
    stream.enable_acks = False  # acked here, once handled
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(arrived, timeout=within)  # wakes now and then to notice a stop
            if buffer:
                await _until_quiet(stream, buffer, full, (max_, within, quiet, linger))
                room.clear()
                batch = list(buffer)
                try:
                    yield batch
                finally:
                    buffer.clear()
                    for event in batch if ack else ():
                        await stream.ack(event)
                    full.clear()
                    room.set()
            arrived.clear()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)


async def _until_quiet(
    stream: Any, buffer: list[Any], full: asyncio.Event, limits: tuple[int, float, float, float]
) -> None:
    """Return once the buffer is full, nothing came during a ``quiet``-long look after ``linger``, or ``within``
    has passed. It looks every ``quiet`` seconds instead of waking per event: a wake-up costs about what handling
    an event does."""
    max_, within, quiet, linger = limits
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    if linger > 0:
        await stream.wait_for_stopped(full, timeout=min(linger, within))
    while len(buffer) < max_ and not stream.should_stop:
        seen, left = len(buffer), deadline - loop.time()
        if left <= 0:
            return
        await stream.wait_for_stopped(full, timeout=min(quiet, left))
        if len(buffer) == seen:
            return


async def overlapped(
    batches: AsyncIterator[list[faust.EventT]], start: Any, finish: Any, ack: Any, ahead: int = 1
) -> None:
    """For each batch, ``started = await start(batch)`` (parse it and hand it to the CPU pool), then, in batch
    order and in a task of its own, ``await finish(batch, started)`` (the stateful step and the routing) and ``ack``
    each of its events. So the pool works on the next batches while this one is routed: with one batch at a
    time, the worker's routing and the pool's processes took turns, and both cores idled a fifth of the time.
    At most ``ahead`` started batches wait for their routing; neither callable may raise (the caller guards
    them), and a batch that is not routed is never acked."""
    waiting: asyncio.Queue[Any] = asyncio.Queue(maxsize=ahead)

    async def route() -> None:
        while (item := await waiting.get()) is not None:
            events, started = item
            await finish(events, started)
            for event in events:
                await ack(event)

    router = asyncio.ensure_future(route())
    try:
        async for events in batches:
            await waiting.put((events, await start(events)))
    finally:
        await waiting.put(None)  # the batches already started are routed and acked before the agent ends
        await router
