"""Agents: the thin Faust agents (loop, call the processor chain, route) for raw → articles → enriched → index.

No exception escapes an agent (Faust would mark the event done and restart the agent): every message ends as
forwarded, counted as an expected drop, or dead-lettered with its stage and reason. The index agent retries a
batch while the sink is unreachable and acks nothing it has not indexed (at-least-once into an idempotent index).
CPU-heavy extraction and enrichment run in the CPU pool, so the event loop keeps heartbeating; each of those
two stages hands its next batch to the pool while it routes the one before (`batching.overlapped`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import NotReady, ProducerSendError
from pydantic import ValidationError

from pipeline.app import PipelineTopics
from pipeline.archive import RawArchive
from pipeline.batching import overlapped, take_quiet
from pipeline.cpu_pool import CpuPool
from pipeline.dead_letters import DeadLetterArchive
from pipeline.faust_fixes import as_current_event
from pipeline.sinks.base import Sink, Written
from processors.errors import Dropped, PermanentError, TransientError
from processors.metrics import Counters
from processors.records import Article, DeadLetter, RawArticle, validation_reason

if TYPE_CHECKING:
    from processors.chain import ArticleChain

log = logging.getLogger("akhbar.agents")

Parsed = TypeVar("Parsed", RawArticle, Article)

EXPIRE_EVERY_SECONDS = 600.0
REWRITE_YIELD_EVERY = 500  # table entries rewritten between two turns of the event loop
MAX_BACKOFF_SECONDS = 30.0
# What the producer raises while the broker is away or restarting: Faust wraps aiokafka's KafkaError (connection,
# timeout, metadata) in ProducerSendError; NotReady while its producer is not started; sockets raise OSError kinds.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (ProducerSendError, NotReady, KafkaError, ConnectionError, TimeoutError)


def _payload_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class Stages:
    """Holds what the agents share: topics, the chain, the sink, the counters."""

    def __init__(self, topics: PipelineTopics, chain: ArticleChain, sink: Sink, counters: Counters,
                 batch_size: int, batch_seconds: float, archive: RawArchive | None = None,
                 pool: CpuPool | None = None, stage_batch: tuple[int, float] = (32, 0.05),
                 quiet: tuple[float, float] = (0.02, 0.25),
                 letters: DeadLetterArchive | None = None) -> None:  # fmt: skip
        self.archive = archive
        self.letters = letters
        # A batch closes once its stream brought nothing for quiet[0] s; the sink's not before quiet[1] s
        # (a store transaction per few articles costs up to twice as much CPU per article as one per 30).
        self.quiet_seconds, self.sink_linger_seconds = quiet
        self.pool = pool or CpuPool(chain, processes=0)
        self.stage_batch_size, self.stage_batch_seconds = stage_batch
        self.topics = topics
        self.chain = chain
        self.sink = sink
        self.counters = counters
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self._last_expiry = {"dedup": time.monotonic(), "cluster": time.monotonic()}
        self._sink_open = False
        self.stale_indexes: set[str] = set()
        self.lost_changelogs: set[str] = set()
        self.mark_indexes_stale()

    # -- routing -------------------------------------------------------------------------------------------
    async def dead_letter(self, event: faust.EventT, stage: str, reason: str, error_type: str,
                          article_id: str | None = None, payload: str | None = None) -> None:  # fmt: skip
        """Keep the letter on disk and send it to the dead-letter topic; never raises (a letter that can be
        neither kept nor sent is logged whole)."""
        message = event.message
        letter = DeadLetter(
            stage=stage, reason=reason[:2000], error_type=error_type, topic=message.topic,
            partition=message.partition, offset=message.offset,
            key=_payload_text(message.key) if message.key is not None else None,
            article_id=article_id, payload=payload if payload is not None else _payload_text(event.value),
        )  # fmt: skip
        body = letter.to_json()
        self._keep(letter, body)
        try:
            await self._send_with_retry(self.topics.dlq, (article_id or "").encode(), body)
        except Exception:  # the dead-letter topic is the last place a message can go: the log keeps it instead
            self.counters.inc(stage, "dead_letter_unsent")
            log.error("dead letter could not be sent; the letter: %s", body.decode("utf-8", errors="replace"))
            return
        self.counters.inc(stage, "dead_letter")
        log.warning("dead letter stage=%s reason=%s article=%s", stage, reason[:200], article_id)

    def _keep(self, letter: DeadLetter, body: bytes) -> None:
        if self.letters is None:
            return
        try:
            self.letters.append(letter)
        except OSError as exc:  # a full or read-only disk: the topic still gets the letter
            self.counters.inc(letter.stage, "dead_letter_unarchived")
            log.error("dead letter could not be archived (%s); the letter: %s", exc, body.decode("utf-8", "replace"))

    async def _send_with_retry(self, topic: faust.TopicT, key: bytes, value: bytes) -> None:
        """A transport error is the broker being away: wait for it (capped backoff) rather than lose the message.
        Anything else is a bug that retrying cannot fix: counted, logged and raised for the caller to route."""
        delay = 0.5
        while True:
            try:
                await _publish(topic, key or None, value)
                return
            except TRANSPORT_ERRORS as exc:
                self.counters.inc("produce", "retry")
                log.warning("send to %s failed (%r); retrying in %.1fs", topic.get_topic_name(), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            except Exception:
                self.counters.inc("produce", "error")
                log.exception("send to %s failed with an error that retrying cannot fix", topic.get_topic_name())
                raise

    # -- news.raw.v1 → news.articles.v1 ---------------------------------------------------------------------
    async def handle_raw(self, event: faust.EventT) -> None:
        await self.handle_raw_batch([event])

    async def handle_raw_batch(self, events: Sequence[faust.EventT]) -> None:
        """Extract a batch in the CPU pool, then deduplicate it here in arrival order (dedup reads the table)."""
        await self.finish_raw_batch(events, await self.start_raw_batch(events))

    async def start_raw_batch(self, events: Sequence[faust.EventT]) -> Any:
        """Parse and archive a batch and hand it to the CPU pool; returns the work in flight (the parsed
        records, the pool's future), which ``finish_raw_batch`` routes (the agent starts the next batch meanwhile)."""
        self.counters.inc("extract", "in", len(events))
        parsed = [(event, raw) for event in events if (raw := await self._parse(event, RawArticle)) is not None]
        if self.archive is not None:
            for event, _ in parsed:
                self.archive.append(event.value)
        # Before the pool's turn, so that the rewrite leaves as batches of its own, ahead of this batch's writes: a
        # recovery that cannot correct Tansu's changelog end (faust_fixes) misses all but a last batch's first record.
        await self._rewrite_if_lost("dedup", self.chain.deduplicator.store, events[0])
        return parsed, asyncio.ensure_future(self._pooled(self.pool.extract, parsed, "extract"))

    async def finish_raw_batch(self, events: Sequence[faust.EventT], started: Any) -> None:
        """The pool's outcomes of a started batch, deduplicated and routed in arrival order."""
        parsed, future = started
        outcomes = await future
        self._rebuild_if_stale("dedup", self.chain.deduplicator.rebuild_index)
        await self._route_in_order("dedup", parsed, outcomes, self._forward_extracted)
        self._maybe_expire("dedup", self.chain.deduplicator.expire, events[-1])

    async def _forward_extracted(self, event: faust.EventT, raw: RawArticle, outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            await self._drop_or_dead_letter(event, outcome, "extract", raw.id, raw.source)
            return
        extracted, signed = outcome
        try:
            article = self.chain.deduplicate(extracted, signed)
        except Exception as exc:
            await self._drop_or_dead_letter(event, exc, "dedup", raw.id, raw.source)
            return
        self.counters.inc("dedup", article.dedup.status)
        if article.language != "ar":  # kept by AKHBAR_KEEP_NON_ARABIC (dropped ones are counted as drops)
            self.counters.inc("extract", f"kept_non_arabic.{article.language}")
        await self._send_with_retry(self.topics.articles, article.id.encode(), article.to_json())
        self.counters.inc("extract", "out")

    async def _drop_or_dead_letter(self, event: faust.EventT, exc: BaseException, stage: str,
                                   article_id: str, source: str) -> None:  # fmt: skip
        if isinstance(exc, Dropped):  # the raw stage counts its drops under "extract", whichever step dropped
            self.counters.inc("extract", f"dropped.{exc.reason}")
            log.info("dropped stage=%s reason=%s article=%s source=%s", stage, exc.reason, article_id, source)
            return
        # PermanentError, or a bug: either way this message cannot go on
        await self.dead_letter(event, getattr(exc, "stage", stage), _reason(exc), type(exc).__name__,
                               article_id=article_id)  # fmt: skip

    async def _parse(self, event: faust.EventT, record: type[Parsed]) -> Parsed | None:
        try:
            return record.model_validate_json(event.value)
        except ValidationError as exc:
            await self.dead_letter(event, "parse", validation_reason(exc), "ValidationError")
            return None

    async def _pooled(self, run: Any, parsed: list[tuple[faust.EventT, Any]], stage: str) -> list[Any]:
        """The pool's outcome per item; if the pool call itself fails, that failure is every item's outcome."""
        try:
            outcomes: list[Any] = await run([record for _, record in parsed])
        except Exception as exc:  # not an article's fault (a pickling bug, a pool that cannot start)
            log.exception("%s pool call failed for a batch of %d", stage, len(parsed))
            return [PermanentError(_reason(exc), stage=stage)] * len(parsed)
        return outcomes

    async def _route_in_order(self, stage: str, parsed: list[tuple[faust.EventT, Any]], outcomes: list[Any],
                              forward: Any) -> None:  # fmt: skip
        """Each item's stateful step and routing, in arrival order; a bug in one dead-letters that item only."""
        for (event, record), outcome in zip(parsed, outcomes, strict=True):
            with as_current_event(event):  # the stateful step writes to this article's table partition
                try:
                    await forward(event, record, outcome)
                except Exception as exc:
                    log.exception("unexpected error in %s for %s", stage, record.id)
                    await self.dead_letter(event, stage, _reason(exc), type(exc).__name__, article_id=record.id)

    def mark_indexes_stale(self) -> None:
        """The in-memory indexes over the tables are rebuilt from the recovered table before each stage's next
        article (at start, and after every partition assignment)."""
        self.stale_indexes = {"dedup", "cluster"}

    def _rebuild_if_stale(self, stage: str, rebuild: Any) -> None:
        """Rebuild a stage's in-memory index from inside its own stream (the table is recovered by then)."""
        if stage in self.stale_indexes:
            self.stale_indexes.discard(stage)
            self.counters.set(f"{stage}.indexed_articles", rebuild())

    def mark_changelogs_lost(self) -> None:
        """The broker was replaced under this worker (an embedded broker restarted or rotated): the tables'
        changelogs went with it, so each stage writes its whole table to the new one before its next article,
        and a worker that starts later recovers all of it."""
        self.lost_changelogs = {"dedup", "cluster"}

    async def _rewrite_if_lost(self, stage: str, table: Any, event: faust.EventT) -> None:
        if stage not in self.lost_changelogs:
            return
        self.lost_changelogs.discard(stage)
        rewritten = await rewrite_table(table, event)
        self.counters.set(f"{stage}.state_rewritten", rewritten)
        log.info("%s: %d table entries written to the new broker's changelog", stage, rewritten)

    def _maybe_expire(self, stage: str, expire: Any, event: faust.EventT) -> None:
        """Expire old state from inside its stage's stream iteration, as of ``event`` (Faust tables refuse
        writes without a current event)."""
        if time.monotonic() - self._last_expiry[stage] < EXPIRE_EVERY_SECONDS:
            return
        self._last_expiry[stage] = time.monotonic()
        with as_current_event(event):
            self.counters.inc(stage, "expired", expire(datetime.now(UTC)))

    # -- news.articles.v1 → news.enriched.v1 ----------------------------------------------------------------
    async def handle_article(self, event: faust.EventT) -> None:
        await self.handle_article_batch([event])

    async def handle_article_batch(self, events: Sequence[faust.EventT]) -> None:
        """Enrich a batch in the CPU pool, then assign story clusters here in arrival order (they read the table)."""
        await self.finish_article_batch(events, await self.start_article_batch(events))

    async def start_article_batch(self, events: Sequence[faust.EventT]) -> Any:
        """Parse a batch and hand it to the CPU pool; ``finish_article_batch`` routes it."""
        self.counters.inc("enrich", "in", len(events))
        parsed = [(event, art) for event in events if (art := await self._parse(event, Article)) is not None]
        await self._rewrite_if_lost("cluster", self.chain.clusterer.store, events[0])  # as start_raw_batch's
        return parsed, asyncio.ensure_future(self._pooled(self.pool.enrich, parsed, "enrich"))

    async def finish_article_batch(self, events: Sequence[faust.EventT], started: Any) -> None:
        """The pool's enriched articles of a started batch, clustered and routed in arrival order."""
        parsed, future = started
        outcomes = await future
        self._rebuild_if_stale("cluster", self.chain.clusterer.rebuild_index)
        await self._route_in_order("enrich", parsed, outcomes, self._forward_enriched)
        self._maybe_expire("cluster", self.chain.clusterer.expire, events[-1])

    async def _forward_enriched(self, event: faust.EventT, article: Article, outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            await self.dead_letter(event, "enrich", _reason(outcome), type(outcome).__name__, article_id=article.id)
            return
        await self._send_with_retry(self.topics.enriched, article.id.encode(), self.chain.assign_packed(*outcome))
        self.counters.inc("enrich", "out")

    # -- news.enriched.v1 → sink ----------------------------------------------------------------------------
    async def handle_batch(self, events: Sequence[faust.EventT]) -> None:
        """Index a batch as it came off the topic (the sink parses it where it likes); what could not be read
        or stored is dead-lettered, by its position in the batch."""
        self.counters.inc("index", "in", len(events))
        written = await self._write_until_done([event.value for event in events])
        for position, reason in written.unreadable:
            await self.dead_letter(events[position], "parse", reason, "ValidationError")
        origin = {article_id: event for article_id, event in zip(written.ids, events, strict=True) if article_id}
        for rejection in written.rejections:
            await self.dead_letter(origin[rejection.article_id], "index", rejection.reason, "Rejected",
                                   article_id=rejection.article_id, payload=rejection.document)  # fmt: skip
        self.counters.inc("index", "out", len(events) - len(written.unreadable) - len(written.rejections))
        self.counters.set("index.last_at", time.time())
        self._observe_latency(written)

    def _observe_latency(self, written: Written) -> None:
        """Fetched → searchable is the pipeline's own latency; published → searchable is what a reader sees."""
        now = time.time()
        self.counters.observe("sink_batch_size", len(written.ids))
        for fetched, published in written.times:
            self.counters.observe("fetched_to_indexed_seconds", now - fetched)
            self.counters.observe("published_to_indexed_seconds", now - published)

    async def _write_until_done(self, values: list[bytes]) -> Written:
        """Retry the batch while the sink is away (nothing is acked meanwhile); bounded backoff per attempt."""
        delay = 0.5
        while True:
            try:
                if not self._sink_open:
                    await self.sink.open()
                    self._sink_open = True
                written = await self.sink.write_serialized(values)
            except TransientError as exc:
                self.counters.inc("index", "retry")
                self.counters.set("index.waiting", str(exc)[:200])
                log.warning("sink unavailable (%s); retrying batch of %d in %.1fs", exc, len(values), delay)
                await asyncio.sleep(delay + random.uniform(0, delay / 4))
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                continue
            self.counters.set("index.waiting", None)
            return written


async def rewrite_table(table: Any, event: faust.EventT) -> int:
    """Write every entry of ``table`` to its changelog again; returns how many (`make bench` times it)."""
    with as_current_event(event):  # a table writes its changelog to the partition of the current event
        keys = list(table.keys())
        for done, key in enumerate(keys, start=1):
            table[key] = table[key]
            if done % REWRITE_YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a week of state is many records: let the producer send them
    return len(keys)


async def _publish(topic: faust.TopicT, key: bytes | None, value: bytes) -> None:
    """Hand serialised bytes straight to the app's producer: ``Topic.send`` wraps each message in Faust's
    channel machinery (future message, codec registry, partitioner, sensors) at a cost per article comparable to
    the produce itself. Delivery is unchanged: a commit flushes this producer first (at-least-once)."""
    producer = await topic.app.maybe_start_producer()  # what Topic.send does first (a no-op once started)
    await producer.send(topic.get_topic_name(), key, value, None, None, None)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PermanentError | Dropped | TransientError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def register_agents(app: faust.App, stages: Stages) -> None:
    """Attach the three agents to ``app``; each is a loop around one ``Stages`` method."""
    topics = stages.topics

    def overlapping(start: Any, finish: Any, stage: str) -> Any:
        """A stage's agent: its next batch goes to the CPU pool while the one before is routed."""

        async def agent(stream: faust.StreamT) -> None:
            batches = take_quiet(stream, stages.stage_batch_size, stages.stage_batch_seconds, stages.quiet_seconds,
                                 ack=False)  # fmt: skip
            await overlapped(batches, _guarded_start(stages, start, stage), _guarded_finish(stages, finish, stage),
                             stream.ack)  # fmt: skip

        return agent

    process_raw = overlapping(stages.start_raw_batch, stages.finish_raw_batch, "extract")
    enrich = overlapping(stages.start_article_batch, stages.finish_article_batch, "enrich")

    async def index(stream: faust.StreamT) -> None:
        async for events in take_quiet(stream, stages.batch_size, stages.batch_seconds, stages.quiet_seconds,
                                       linger=stages.sink_linger_seconds):  # fmt: skip
            await _guarded_batch(stages, events, stages.handle_batch, "index")

    app.agent(topics.raw, name="process_raw")(process_raw)
    app.agent(topics.articles, name="enrich")(enrich)
    app.agent(topics.enriched, name="index")(index)


async def _guarded_batch(stages: Stages, events: Sequence[faust.EventT], handler: Any, stage: str) -> None:
    """Last resort (handlers guard each item): a batch that still fails is dead-lettered with the reason."""
    try:
        await handler(events)
    except Exception as exc:
        await _dead_letter_batch(stages, events, exc, stage)


async def _dead_letter_batch(stages: Stages, events: Sequence[faust.EventT], exc: Exception, stage: str) -> None:
    log.exception("unexpected error in the %s stage", stage)
    for event in events:
        await stages.dead_letter(event, stage, _reason(exc), type(exc).__name__)


def _guarded_start(stages: Stages, start: Any, stage: str) -> Any:
    """``start`` whose failure dead-letters its batch (``None``: nothing to route)."""

    async def guarded(events: Sequence[faust.EventT]) -> Any:
        try:
            return await start(events)
        except Exception as exc:
            await _dead_letter_batch(stages, events, exc, stage)
            return None

    return guarded


def _guarded_finish(stages: Stages, finish: Any, stage: str) -> Any:
    """``finish`` whose failure dead-letters its batch (its items guard themselves: this is the last resort)."""

    async def guarded(events: Sequence[faust.EventT], started: Any) -> None:
        if started is None:
            return
        try:
            await finish(events, started)
        except Exception as exc:
            await _dead_letter_batch(stages, events, exc, stage)

    return guarded
