"""Embedded store (writer process): in the worker, the store's writes run in a process of their own.

Indexing an article into the store (parse its message, build its document and FTS text, insert) cost about a
fifth of the worker process's CPU, on its event loop and under its GIL; and a thread running SQLite takes the
GIL back after every row of an ``executemany``, so that thread and the event loop kept waiting on each other.
In a process of its own all of it runs beside the worker, on another core. The worker hands it a batch of
messages as bytes (cheap to send) and gets back what became of each (``Written``).

One process holds the store's only writer connection. It is started with ``spawn`` from the worker's main
thread and dies with the worker (``PR_SET_PDEATHSIG``, as in ``cpu_pool``); a transaction it had open when it
died is rolled back by SQLite, and the agent has acked nothing of that batch. A SQLite error that is the
world's (locked, disk full, I/O) comes back as ``TransientError`` and the agent retries the batch. If the
process dies under a batch (a crash in SQLite, the kernel's OOM killer), the batch is written again one message
at a time in new processes, and a message under which the process dies again is rejected alone.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.cpu_pool import serve_worker
from pipeline.sinks.base import Rejection, Written, completed, parse_serialized
from pipeline.sinks.embedded import EmbeddedStore
from processors.errors import TransientError
from processors.records import EnrichedArticle

log = logging.getLogger("akhbar.sinks.embedded_writer")

_child: dict[str, EmbeddedStore] = {}  # in the writer process: its store


def _start_in_child(path: Path, worker_pid: int) -> None:
    serve_worker(worker_pid)
    _child["store"] = EmbeddedStore(path)


def _open_in_child() -> None:
    store = _child["store"]
    try:
        if not store.is_open:
            store.open()
    except sqlite3.OperationalError as exc:
        store.close()
        raise TransientError(f"embedded store {store.path}: {exc}", stage="index") from None


def _write_in_child(values: list[bytes]) -> Written:
    _open_in_child()
    store = _child["store"]
    docs, written = parse_serialized(values)
    try:
        return completed(written, docs, store.write(docs) if docs else [])
    except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: the world, not the item
        raise TransientError(f"embedded store {store.path}: {exc}", stage="index") from None


def _close_in_child() -> None:
    store = _child.pop("store", None)
    if store is not None:
        store.close()


class WriterProcess:
    """The store's writer in a process of its own; calls are serialised by the caller (``EmbeddedSink``)."""

    def __init__(self, path: Path, write_call: Callable[[list[bytes]], Written] = _write_in_child) -> None:
        self.path = path
        self.write_call = write_call  # a module-level function (it is pickled by name); tests pass their own
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None

    async def open(self) -> None:
        await self._call(_open_in_child)

    async def close(self) -> None:
        if self._executor is None:
            return
        try:
            await self._call(_close_in_child)
        except BrokenProcessPool:
            pass
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def write(self, values: list[bytes]) -> Written:
        try:
            written: Written = await self._call(self.write_call, values)
            return written
        except BrokenProcessPool:
            self._discard()
            log.error("the store's writer process died; writing its batch of %d one at a time", len(values))
        return await self._one_at_a_time(values)

    async def _one_at_a_time(self, values: list[bytes]) -> Written:
        merged = Written(ids=[])
        for position, value in enumerate(values):
            try:
                part: Written = await self._call(self.write_call, [value])
            except BrokenProcessPool:
                self._discard()
                part = _killed_by(value)
            merged.ids += part.ids
            merged.unreadable += [(position, reason) for _, reason in part.unreadable]
            merged.rejections += part.rejections
            merged.times += part.times
        return merged

    async def _call(self, func: Any, *args: Any) -> Any:
        if self._executor is None:  # submit spawns the process in this thread: the event loop's, which lives on
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_in_child,
                initargs=(self.path, os.getpid()),
            )
        return await asyncio.wrap_future(self._executor.submit(func, *args))

    def _discard(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.restarts += 1


def _killed_by(value: bytes) -> Written:
    """The message under which the writer process died again: rejected alone (read here to name it)."""
    try:
        article = EnrichedArticle.model_validate_json(value)
    except ValidationError:  # cannot happen (the process reads it before it writes), but never raise here
        return Written(ids=[None], unreadable=[(0, "the store's writer process died on this message")])
    log.error("the store's writer process died on article %s: rejected", article.id)
    reason = "the store's writer process died on this article (crash or out of memory)"
    return Written(ids=[article.id], rejections=[Rejection(article.id, reason, value.decode("utf-8", "replace"))])
