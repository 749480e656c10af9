"""Embedded store (sink): the ``Sink`` the index agent writes through, over ``EmbeddedStore``.

SQLite work runs in a thread so the event loop keeps going; in the worker (``writer_process``) the writes of
``write_serialized`` run in a process of their own (``embedded_writer``), which also reads the messages.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.sinks.base import Rejection, Written, completed, parse_serialized
from pipeline.sinks.embedded import EmbeddedStore
from processors.errors import TransientError
from processors.records import EnrichedArticle

if TYPE_CHECKING:
    from pipeline.sinks.embedded_writer import WriterProcess


class EmbeddedSink:
    """The ``Sink`` over ``EmbeddedStore`` (a thread, or with ``writer_process`` the writer process: see above)."""

    def __init__(self, path: Path, writer_process: bool = False) -> None:
        self.store = EmbeddedStore(path)
        self._lock = asyncio.Lock()
        self._writer: WriterProcess | None = None
        if writer_process:
            from pipeline.sinks.embedded_writer import WriterProcess

            self._writer = WriterProcess(self.store.path)

    async def open(self) -> None:
        if self._writer is not None:
            async with self._lock:
                await self._writer.open()
            return
        await self._run(self.store.open)

    async def write(self, docs: list[EnrichedArticle]) -> list[Rejection]:
        if not docs:
            return []
        if self._writer is not None:
            return (await self.write_serialized([doc.to_json() for doc in docs])).rejections
        return await self._run(self.store.write, docs)

    async def write_serialized(self, values: list[bytes]) -> Written:
        if self._writer is not None:
            async with self._lock:
                return await self._writer.write(values)
        docs, written = parse_serialized(values)
        return completed(written, docs, await self.write(docs))

    async def close(self) -> None:
        if self._writer is not None:
            async with self._lock:
                await self._writer.close()
            return
        await self._run(self.store.close)

    async def _run(self, func: Any, *args: Any) -> Any:
        async with self._lock:
            try:
                return await asyncio.to_thread(func, *args)
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: the world, not the item
                raise TransientError(f"embedded store {self.store.path}: {exc}", stage="index") from exc
