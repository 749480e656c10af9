"""Faust fixes: corrections to faust-streaming 0.15 (recovery order, fetches, batch events, changelog ends).

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

Changelog ends: a table recovers its changelog up to the partition's end offset (``Consumer.highwaters``), and
Tansu answers ListOffsets LATEST with its last record batch's base offset + 1 (notes §1): a restarted worker
recovered all but the first record of the changelog's last batch, and forgot those articles (a reprint of one
was indexed as a new story). ``highwaters`` now reads the batch at the answered end − 1 and returns the offset
after its last record (``true_ends``, kafka-python in a thread: the consumer's own client must keep its
positions). On Kafka the record at end − 1 is the last one, so the answer is unchanged there; if the read fails,
Faust's answer is kept (a warning says so).

Fetched partitions: Faust hands aiokafka's ``fetched_records`` its consumer's own set of active partitions,
which the app changes while the fetch waits, and aiokafka reads an empty set as "every partition". When a
recovery ends, that set is empty for a moment (changelogs paused, streams not yet resumed): the fetch in flight
returned the stream partitions' records, Faust dropped them as not active, and aiokafka's position had moved
past them — a worker over a non-empty changelog whose group had committed nothing indexed nothing (1 run in 11,
5 in 6 once the changelog ends were read). robinhood/faust #69 fixed this once; faust-streaming has it again.
``fetch_records`` fetches for a snapshot, fetches nothing for an empty one, and rewinds the records of a
partition paused while it waited (``rewind_inactive``), so that they are read again when it resumes.

Applied by ``apply()`` when the worker is built, never at import time, and only to the faust-streaming minor
it was written for (pyproject pins ``<0.16``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Iterator, Mapping
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


def true_ends(bootstrap: str, ends: Mapping[Any, int], wait_s: float = 5.0) -> dict[Any, int]:
    """``ends`` (partition → end offset as ListOffsets answered) corrected to the offset after the last record:
    each non-empty partition is read from its end − 1 (the whole last batch comes back) until it answers."""
    from kafka import KafkaConsumer, TopicPartition

    corrected = dict(ends)
    wanted = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end and end > 0}
    if not wanted:
        return corrected
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False, fetch_max_wait_ms=100)
    try:
        consumer.assign(list(wanted))
        for kafka_tp, tp in wanted.items():
            consumer.seek(kafka_tp, ends[tp] - 1)
        pending, deadline = set(wanted), time.monotonic() + wait_s
        while pending and time.monotonic() < deadline:
            for kafka_tp, records in consumer.poll(timeout_ms=200).items():
                tp = wanted[kafka_tp]
                corrected[tp] = max(corrected[tp], records[-1].offset + 1)
                pending.discard(kafka_tp)
                consumer.pause(kafka_tp)  # its last batch is read; later records are not the recovery's
        if pending:
            log.warning(
                "changelog ends: no answer for %s; recovering to the broker's offsets", sorted(map(str, pending))
            )
    finally:
        consumer.close()
    return corrected


def _bootstrap_of(app: Any) -> str:
    return ",".join(f"{url.host}:{url.port or 9092}" for url in app.conf.broker)


async def highwaters(self: Any, *partitions: Any) -> Mapping[Any, int]:
    """``Consumer.highwaters`` with Tansu's end offsets corrected (``true_ends``)."""
    ends = await self._akhbar_upstream_highwaters(*partitions)
    try:
        return await asyncio.to_thread(true_ends, _bootstrap_of(self.app), ends)
    except Exception as exc:  # a recovery must go on: upstream's answer is what it had before this fix
        log.warning("changelog ends not corrected (%s); recovering to the broker's offsets", exc)
        return ends


async def fetch_records(self: Any, consumer: Any, active_partitions: Any, **limits: Any) -> Any:
    """``AIOKafkaConsumerThread._fetch_records`` over a snapshot of the active partitions, never an empty one."""
    from aiokafka.errors import ConsumerStoppedError

    wanted = frozenset(active_partitions)
    if not self.consumer.flow_active or not wanted:
        return {}
    fetcher = consumer._fetcher
    if consumer._closed or fetcher._closed:
        raise ConsumerStoppedError()
    with fetcher._subscriptions.fetch_context():
        records = await fetcher.fetched_records(wanted, **limits)  # timeout, max_records
    return rewind_inactive(consumer, records, self.consumer)


def rewind_inactive(consumer: Any, records: dict[Any, list[Any]], app_consumer: Any) -> dict[Any, list[Any]]:
    """``records`` without those of partitions the app no longer takes from; aiokafka re-reads them later."""
    taken = app_consumer._active_partitions or set()
    for tp in [tp for tp in records if tp not in taken and tp not in app_consumer._buffered_partitions]:
        first = records.pop(tp)[0].offset
        if consumer._subscription.is_assigned(tp):  # a revoked partition restarts from its committed offset
            consumer.seek(tp, first)
            log.info("fetched records of %s:%s rewound to %d: the partition was paused", tp.topic, tp.partition, first)
    return records


def apply(fetch_max_wait_ms: int = 100) -> bool:
    """Install the fixes into faust's classes; returns False (and warns) on a faust they were not written for."""
    import faust
    from faust.tables.recovery import Recovery
    from faust.transport.consumer import ThreadDelegateConsumer as delegate
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if not faust.__version__.startswith(FIXED_MINOR):
        log.warning("faust-streaming %s: fixes not applied (written for %sx)", faust.__version__,
                    FIXED_MINOR)  # fmt: skip
        return False
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]
    delegate._akhbar_upstream_highwaters = getattr(delegate, "_akhbar_upstream_highwaters", delegate.highwaters)  # type: ignore[attr-defined]
    delegate.highwaters = highwaters  # type: ignore[method-assign]
    create = getattr(AIOKafkaConsumerThread, "_akhbar_upstream_create", AIOKafkaConsumerThread._create_worker_consumer)

    def create_worker_consumer(self: Any, *args: Any, **kwargs: Any) -> Any:
        consumer = create(self, *args, **kwargs)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read by AIOKafkaConsumer.start() for its Fetcher
        return consumer

    AIOKafkaConsumerThread._akhbar_upstream_create = create  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
    AIOKafkaConsumerThread._fetch_records = fetch_records  # type: ignore[method-assign,assignment]
    return True
