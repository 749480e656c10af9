"""Embedded store's writer process: messages in as bytes, what became of each by position, crashes contained."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pipeline.search import SearchQuery
from pipeline.settings import Settings
from pipeline.sinks.base import Written, open_sink
from pipeline.sinks.embedded_search import EmbeddedSearcher
from pipeline.sinks.embedded_sink import EmbeddedSink
from pipeline.sinks.embedded_writer import WriterProcess, _write_in_child
from processors.errors import TransientError
from tests.unit.pipeline.sinks.factory import make_article


def write_or_die(values: list[bytes]) -> Written:
    """Runs in the writer process: a message holding "POISON" kills it, as a crash inside SQLite would."""
    if any(b"POISON" in value for value in values):
        os._exit(3)
    return _write_in_child(values)


def stored_ids(path: Path) -> list[str]:
    searcher = EmbeddedSearcher(path)
    try:
        return sorted(hit.id for hit in searcher.search(SearchQuery(limit=100)).hits)
    finally:
        searcher.close()


def test_the_worker_sink_writes_in_a_process_of_its_own(tmp_path: Path) -> None:
    assert open_sink(Settings(data_dir=tmp_path))._writer is not None  # type: ignore[attr-defined]
    assert open_sink(Settings(data_dir=tmp_path, cpu_processes=0))._writer is None  # type: ignore[attr-defined]


def test_messages_are_indexed_and_the_unreadable_named_by_position(tmp_path: Path) -> None:
    store = tmp_path / "search.sqlite3"
    one, two = make_article("https://a.com/1"), make_article("https://a.com/2")
    values = [one.to_json(), b'{"id": 1}', two.to_json()]

    async def run() -> tuple[Written, Written]:
        sink = EmbeddedSink(store, writer_process=True)
        await sink.open()
        try:
            return await sink.write_serialized(values), await sink.write_serialized(values)  # redelivered
        finally:
            await sink.close()

    first, again = asyncio.run(run())
    assert first.ids == [one.id, None, two.id] and first.rejections == []
    assert [position for position, _ in first.unreadable] == [1] and "invalid record" in first.unreadable[0][1]
    assert first.times == [(a.fetched_at.timestamp(), a.published_at.timestamp()) for a in (one, two)]
    assert again.ids == first.ids
    assert stored_ids(store) == sorted([one.id, two.id])  # nothing doubled


def test_a_store_that_cannot_be_opened_is_a_transient_error(tmp_path: Path) -> None:
    async def run() -> None:
        sink = EmbeddedSink(tmp_path, writer_process=True)  # a directory, not a database file
        try:
            with pytest.raises(TransientError, match=str(tmp_path)):
                await sink.open()
            with pytest.raises(TransientError):
                await sink.write_serialized([make_article().to_json()])
        finally:
            await sink.close()

    asyncio.run(run())


def test_a_message_that_kills_the_process_is_rejected_alone(tmp_path: Path) -> None:
    store = tmp_path / "search.sqlite3"
    good = [make_article(f"https://a.com/{n}") for n in range(3)]
    poison = make_article("https://a.com/poison", text="POISON " * 20)
    writer = WriterProcess(store, write_call=write_or_die)

    async def run() -> Written:
        try:
            return await writer.write([good[0].to_json(), poison.to_json(), good[1].to_json(), good[2].to_json()])
        finally:
            await writer.close()

    written = asyncio.run(run())
    assert [rejection.article_id for rejection in written.rejections] == [poison.id]
    assert "died" in written.rejections[0].reason and "POISON" in written.rejections[0].document
    assert written.ids == [good[0].id, poison.id, good[1].id, good[2].id] and len(written.times) == 3
    assert writer.restarts == 2  # the batch's crash, then the poison message's own
    assert stored_ids(store) == sorted(a.id for a in good)
