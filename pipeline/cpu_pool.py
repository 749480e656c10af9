"""CPU pool: the stateless processor stages (extraction, enrichment) of a batch run in worker processes.

One Faust worker is one Python process, and the processors are CPU-bound Python: without this the worker
uses one core however many the machine has. Extraction and enrichment keep no state, so a batch of them can
be split over processes; deduplication and story clustering read and write the Faust tables and stay in the
worker, in arrival order. ``processes=0`` runs the same calls in one thread of the worker (tests, small
machines).

Every item comes back as its result or as the exception it raised (``Outcome``), in input order, so the agent
routes each one (forward, count the drop, dead-letter). A process that dies on an article (a crash in a C
extension, the kernel's OOM killer) breaks the pool: the pool is rebuilt and the batch retried one article at a
time, and the article that kills a process again is returned as a ``PermanentError`` for the dead-letter topic,
so one poison article costs one dead letter, not the worker.

Children are started with ``spawn`` (the worker has threads by then, which ``fork`` would copy mid-flight), build
their own chain once, ignore Ctrl-C (the worker stops them) and die with the worker (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from pipeline.broker import die_with_parent
from pipeline.runtime import tune_collector
from processors.chain import ArticleChain, ChainConfig
from processors.errors import PermanentError, outcome_of
from processors.records import Article, RawArticle

log = logging.getLogger("akhbar.cpu_pool")

Item = TypeVar("Item")
Result = TypeVar("Result")
Outcome = Any  # the result of one item, or the exception it raised (a union mypy cannot narrow usefully)
BatchCall = Callable[[Sequence[Any]], list[Outcome]]

READY_ROUNDS = 300  # of ~0.2 s each: how long start() waits for every process to build its chain
_child: dict[str, Any] = {}  # in a pool process: its chain


def serve_worker(worker_pid: int) -> None:
    """In a process the worker spawned (pool, store writer): live and die with the worker alone."""
    # The worker stops us (a sentinel at its exit) once its agents are done: a Ctrl-C or a SIGTERM to the
    # whole process group must not kill a batch under a worker that is still finishing it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL)
    if os.getppid() != worker_pid:  # the worker died before prctl took effect
        os._exit(1)
    tune_collector()  # spawned: a fresh interpreter with the default thresholds


def _init_child(config: ChainConfig, worker_pid: int) -> None:
    serve_worker(worker_pid)
    chain = ArticleChain(config)
    chain.warm()  # now, before the process takes its first batch
    _child["chain"] = chain


def _child_chain() -> ArticleChain:
    chain: ArticleChain = _child["chain"]
    return chain


def _ready_child(_: Sequence[Any]) -> list[Outcome]:
    """Answers once this process is initialised; the pause lets each process of the pool take one."""
    time.sleep(0.2)
    return [os.getpid()]


def _outcomes(call: Callable[[Item], Result], items: Sequence[Item], stage: str) -> list[Outcome]:
    """Each item's result or exception; an exception that would not survive pickling is made permanent."""
    return [outcome_of(call, item, stage) for item in items]


def _extract_in_child(raws: Sequence[RawArticle]) -> list[Outcome]:
    return _outcomes(_child_chain().extract_signed, raws, "extract")


def _enrich_in_child(articles: Sequence[Article]) -> list[Outcome]:
    return _outcomes(_child_chain().enrich_packed, articles, "enrich")


class CpuPool:
    """Runs ``extract_signed`` and ``enrich_packed`` of a batch over ``processes`` processes (0 = a thread):
    each outcome is a pair, the record and what its stateful stage needs precomputed, or an exception."""

    def __init__(self, chain: ArticleChain, processes: int) -> None:
        self.chain = chain
        self.processes = processes
        self.restarts = 0
        self._executor: Executor | None = None

    def start(self) -> None:
        """Start the processes and wait until each has built its chain (gazetteers, language model): a broken
        gazetteer file stops the worker at start-up, not every batch. Without processes, the worker's chain."""
        if self.processes == 0:
            self.chain.warm()
            return
        if self._executor is not None:
            return
        ready = {pid for future in self._spawn() for pid in future.result()}
        for _ in range(READY_ROUNDS):  # a process answers only once initialised; wait until each has
            if len(ready) >= self.processes:
                break
            assert self._executor is not None
            asked = [self._executor.submit(_ready_child, []) for _ in range(self.processes)]
            ready |= {pid for future in asked for pid in future.result()}

    def _spawn(self) -> list[Future[list[Outcome]]]:
        # Processes are spawned by ``submit`` in the calling thread, and PR_SET_PDEATHSIG fires when that
        # thread ends: call this from the worker's main thread (its event loop's), never a short-lived one.
        self._executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_child,
            initargs=(self.chain.config, os.getpid()),
        )
        return [self._executor.submit(_ready_child, []) for _ in range(self.processes)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def extract(self, raws: Sequence[RawArticle]) -> list[Outcome]:
        if self.processes == 0:
            return await asyncio.to_thread(_outcomes, self.chain.extract_signed, raws, "extract")
        return await self._run(_extract_in_child, raws, "extract")

    async def enrich(self, articles: Sequence[Article]) -> list[Outcome]:
        """Enriched copies as JSON (duplicates are copied, not enriched) and their story facts; the caller
        clusters them."""
        if self.processes == 0:
            return await asyncio.to_thread(_outcomes, self.chain.enrich_packed, articles, "enrich")
        return await self._run(_enrich_in_child, articles, "enrich")

    async def _run(self, call: BatchCall, items: Sequence[Any], stage: str) -> list[Outcome]:
        if not items:
            return []
        try:
            return await self._spread(call, items)
        except BrokenProcessPool:
            log.error("a %s process died; retrying its batch of %d one article at a time", stage, len(items))
            self._discard()
            return [await self._alone(call, item, stage) for item in items]

    async def _spread(self, call: BatchCall, items: Sequence[Any]) -> list[Outcome]:
        """One chunk per process, results in input order."""
        if self._executor is None:  # after a crash: the children load their models off the event loop
            await asyncio.gather(*map(asyncio.wrap_future, self._spawn()))
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        size = -(-len(items) // self.processes)
        chunks = [items[first : first + size] for first in range(0, len(items), size)]
        parts = await asyncio.gather(*(loop.run_in_executor(self._executor, call, chunk) for chunk in chunks))
        return [outcome for part in parts for outcome in part]

    async def _alone(self, call: BatchCall, item: Any, stage: str) -> Outcome:
        try:
            return (await self._spread(call, [item]))[0]
        except BrokenProcessPool:
            self._discard()
            log.error("a %s process died on article %s: dead-lettered", stage, getattr(item, "id", item))
            return PermanentError("the processor process died on this article (crash or out of memory)", stage=stage)

    def _discard(self) -> None:
        """Drop a broken pool; the next call starts a new one."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.restarts += 1
