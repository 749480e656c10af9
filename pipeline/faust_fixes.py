"""Faust fixes: corrections to faust-streaming 0.15 — table recovery order, the consumer's fetch wait, batch events.

After a rebalance, ``Recovery.on_recovery_completed`` resumes the stream partitions, then awaits the seek to the
committed offsets, and only then calls ``app.flow_control.resume()`` — which clears every stream queue. Messages
the fetcher delivered during the seek sit in those queues: they are thrown away unprocessed, and because the
consumer has already recorded them as read, their re-fetch after the seek is dropped as "already read" too. Seen
here (tests/integration/test_faults.py, a second worker joining and leaving): 5–26 raw articles of a partition
lost until the next restart, in about one run in three. faust-streaming issues #216/#217 fixed the same order in
``_resume_streams`` (the path without tables); the path with tables kept it.

The fix keeps the upstream steps and changes only their order: seek while the stream partitions are still
paused, resume the flow (clearing queues that can only hold pre-rebalance messages, which the seek re-reads),
and resume the partitions last.

Fetch wait: Faust creates its consumer with ``fetch_max_wait_ms=1500`` (hard-coded). Kafka answers a fetch as
soon as any partition has data, but Tansu holds a fetch over several partitions for the whole wait even when one
has data (measured here: 1.23 s median delay for a message on one of three assigned partitions at 1500 ms,
0.04 s at 100 ms). A worker's consumer holds every stage's partitions, so each of the three topic hops cost up
to 1.5 s. ``AKHBAR_FETCH_MAX_WAIT_MS`` (default 100) is set on the consumer before it starts; on Kafka it only
bounds how often an idle consumer asks.

Batches: a table write finds the partition of its changelog record from the stream's current event, which
``Stream.take_events`` does not set while the agent handles a batch (its buffer is filled by a background
processor): every table write raised "Cannot modify table key from outside of stream iteration".
``as_current_event`` sets it for the item being handled, so each article's state goes to its own partition.

Applied by ``apply()`` when the worker is built, never at import time, and only to the faust-streaming minor
it was written for (pyproject pins ``<0.16``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterator
from typing import Any

import faust.streams

log = logging.getLogger("akhbar.faust_fixes")

FIXED_MINOR = "0.15."


@contextlib.contextmanager
def as_current_event(event: Any) -> Iterator[None]:
    """Within this block, Faust tables write as if ``event`` were the one the stream is iterating."""
    token = faust.streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust.streams._current_event.reset(token)


async def on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """``Recovery.on_recovery_completed`` with the seek before, and the partition resume after, the flow resume."""
    app, consumer = self.app, self.app.consumer
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    actives, standbys = self.actives_for_table, self.standbys_for_table
    table_callbacks = [
        asyncio.ensure_future(table.on_recovery_completed(actives[table], standbys[table]))
        for table in self.tables.values()
    ]
    if table_callbacks:
        await asyncio.wait(table_callbacks)
    if app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again app id %s param %s", app.consumer_generation_id, generation_id)
        return
    assignment = consumer.assignment()
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
    self.completed.set()
    app.flow_control.resume()  # clears the stream queues: nothing fetched since the seek is in them yet
    consumer.resume_flow()
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


def apply(fetch_max_wait_ms: int = 100) -> bool:
    """Install both fixes into faust's classes; returns False (and warns) on a faust they were not written for."""
    import faust
    from faust.tables.recovery import Recovery
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if not faust.__version__.startswith(FIXED_MINOR):
        log.warning("faust-streaming %s: recovery-order fix not applied (written for %sx)", faust.__version__,
                    FIXED_MINOR)  # fmt: skip
        return False
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]
    create = getattr(AIOKafkaConsumerThread, "_akhbar_upstream_create", AIOKafkaConsumerThread._create_worker_consumer)

    def create_worker_consumer(self: Any, *args: Any, **kwargs: Any) -> Any:
        consumer = create(self, *args, **kwargs)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read by AIOKafkaConsumer.start() for its Fetcher
        return consumer

    AIOKafkaConsumerThread._akhbar_upstream_create = create  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
    return True
