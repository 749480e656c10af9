"""Supervisor: rotating the embedded broker — restarted empty while the pipeline is idle, so its memory stays bounded.

Tansu's memory storage ignores retention: it keeps every message until it stops, ~13 KB per article with zstd
batches (docs/benchmarks.md), so `akhbar run` would grow without end. Once the broker has grown by
``AKHBAR_BROKER_ROTATE_MB`` since it started, the supervisor:

1. stops the connectors, so that nothing new enters;
2. waits until the worker's consumer group has committed every message of the topics it reads: nothing is then
   in flight, and what the broker holds is history (the index has it, the raw archive and the dead-letter files
   on disk too);
3. restarts the broker empty on the same port and recreates the topics;
4. starts the connectors again.

The worker stays up throughout: its tables (deduplication and story state) live in its memory, and it rejoins the
new broker as after a broker crash. The supervisor recreates the tables' changelog topics with the others, and
the worker, seeing a new broker pid at its next assignment, writes its whole tables to them before its next
article (``Stages.mark_changelogs_lost``), so a worker started later recovers everything. If the pipeline does
not drain in time (a sink that is down, a backlog), nothing is rotated: the connectors resume at once and the
rotation is tried again later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from pipeline.broker import port_open

DRAIN_SECONDS = 120.0  # longest the connectors stay stopped waiting for the pipeline to drain
RETRY_SECONDS = 600.0  # after a rotation that could not drain
# Between two rotations, whatever the limit: a fresh broker grows a little as the topics and the group come
# back, and a limit that small must not keep the connectors paused.
MIN_GAP_SECONDS = 30.0
PROBE_SECONDS = 1.5  # how long a probe reads past the committed offsets before it calls them the end


def pipeline_drained(bootstrap: str, group: str, topics: Iterable[str]) -> bool:
    """True when ``group`` has committed past every message of ``topics``: a reader placed at each committed
    offset finds nothing. (Tansu's end offsets cannot be trusted, NOTES §1, so this reads instead of comparing.)
    The reader only asks for the group's offsets: it joins nothing and commits nothing."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port_open(host, int(port), timeout=1.0):
        return False  # a broker that cannot answer is no broker to rotate (and kafka-python leaks its sockets)
    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                 fetch_max_wait_ms=100, request_timeout_ms=5000,
                                 bootstrap_timeout_ms=5000)  # fmt: skip
    except KafkaError:
        return False
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, consumer.committed(tp) or 0)
        deadline = time.monotonic() + PROBE_SECONDS
        while time.monotonic() < deadline:
            if any(consumer.poll(timeout_ms=300, max_records=1).values()):
                return False
        return True
    except KafkaError:
        return False
    finally:
        consumer.close()


class BrokerRotation:
    """When the embedded broker is due a rotation, and the sequence that rotates it (``rotate``)."""

    def __init__(self, limit_bytes: float, drained: Callable[[], bool], stopping: Callable[[], bool],
                 tick: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.limit_bytes = limit_bytes
        self.drained = drained
        self.stopping = stopping  # the supervisor was asked to stop: give up waiting
        self.tick = tick  # called while waiting (the supervisor keeps its status files fresh)
        self.rotations = 0
        self.last_rotated_at: float | None = None
        self._next_try = 0.0

    def due(self, grown_bytes: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.limit_bytes > 0 and grown_bytes >= self.limit_bytes and now >= self._next_try

    def rotate(self, pause: Callable[[], None], restart_broker: Callable[[], None], resume: Callable[[], None],
               say: Callable[[str], None]) -> bool:  # fmt: skip
        """Pause the connectors, wait for the drain, restart the broker, resume; False if it did not drain."""
        say("akhbar: the embedded broker is due a rotation; stopping the connectors until the pipeline drains")
        paused = time.monotonic()
        pause()
        try:
            if not self._wait_drained():
                self._next_try = time.monotonic() + RETRY_SECONDS
                if not self.stopping():
                    say(f"akhbar: the pipeline did not drain within {DRAIN_SECONDS:.0f}s; broker kept, retry later")
                return False
            restart_broker()
            self.rotations += 1
            self.last_rotated_at = time.time()
            self._next_try = time.monotonic() + MIN_GAP_SECONDS
            say(
                f"akhbar: the embedded broker was restarted empty (every message had been processed; the connectors "
                f"paused {time.monotonic() - paused:.1f}s)"
            )
            return True
        finally:
            if not self.stopping():  # else the supervisor is stopping every process: none to start again
                resume()

    def _wait_drained(self) -> bool:
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and not self.stopping():
            if self.drained():
                return True
            self.tick()
            time.sleep(1.0)
        return False
