"""Embedded store (search side): the in-memory snapshot of the small per-document columns searches filter on.

Published time and tag ids of every rowid, as numpy arrays indexed by rowid (no lookup per match: a common word
matches most documents), refreshed when the file changes. Rowids are never reused and a changed document gets
a new rowid, so only new rows need reading; dead rowids keep their entries, and only ``live`` says which exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

NO_DATE = -(2**62)  # documents without a date sort last


def ints(joined: str | None) -> np.ndarray:
    """A ``group_concat`` of integers as an array (one C-side string, not a Python tuple per row)."""
    return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, dtype=np.int64)


def int_column(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> np.ndarray:
    """The integers of a one-column query, through ``group_concat`` (``sql`` names its column ``v``)."""
    return ints(conn.execute(f"SELECT group_concat(v) FROM ({sql})", params).fetchone()[0])


class Snapshot:
    """Per-rowid published time and tag ids (by rowid, and as one flat tag list), plus the live rowids."""

    def __init__(self) -> None:
        self.version = -1
        self.last = 0  # highest rowid read
        self.published = np.full(1, NO_DATE, dtype=np.int64)  # [rowid]
        self.starts = np.zeros(1, dtype=np.int64)  # [rowid] -> first index into ``tags``
        self.lengths = np.zeros(1, dtype=np.int64)  # [rowid] -> how many tags
        self.tags = np.zeros(0, dtype=np.int32)  # every document's tag ids, rowid order
        self.tag_rowids = np.zeros(0, dtype=np.int64)  # the rowid each entry of ``tags`` belongs to
        self.live = np.zeros(0, dtype=np.int64)  # rowids present now, ascending
        self.alive = np.zeros(1, dtype=bool)  # [rowid] -> present now

    def refresh(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self.version:
            return
        rows = conn.execute(
            "SELECT rowid, coalesce(published_ts, ?), tag_ids FROM docs WHERE rowid > ? ORDER BY rowid",
            (NO_DATE, self.last),
        ).fetchall()
        if rows:
            self._append(rows)
        self.live = int_column(conn, "SELECT rowid AS v FROM docs ORDER BY rowid")
        self.alive = np.zeros(self.last + 1, dtype=bool)
        self.alive[self.live] = True
        self.version = version

    def _append(self, rows: list[tuple[int, int, bytes]]) -> None:
        rowids = np.array([r[0] for r in rows], dtype=np.int64)
        lengths = np.array([len(r[2]) // 4 for r in rows], dtype=np.int64)
        size = int(rowids[-1]) + 1
        self.published = _grown(self.published, size, NO_DATE)
        self.starts = _grown(self.starts, size, 0)
        self.lengths = _grown(self.lengths, size, 0)
        self.published[rowids] = [r[1] for r in rows]
        self.starts[rowids] = self.tags.size + np.concatenate(([0], np.cumsum(lengths)[:-1]))
        self.lengths[rowids] = lengths
        self.tags = np.concatenate((self.tags, np.frombuffer(b"".join(r[2] for r in rows), dtype=np.int32)))
        self.tag_rowids = np.concatenate((self.tag_rowids, np.repeat(rowids, lengths)))
        self.last = size - 1

    def present(self, rowids: np.ndarray) -> np.ndarray:
        """``rowids`` without those of deleted documents (the FTS index should hold none; never show one)."""
        rowids = rowids[: np.searchsorted(rowids, self.last, "right")]
        return rowids[self.alive[rowids]]

    def member(self, rowids: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Which of ``rowids`` are among ``members`` (a mask by rowid: no sort of either)."""
        mask = np.zeros(self.last + 1, dtype=bool)
        mask[members] = True
        return mask[rowids]

    def tagged(self, tag_ids: np.ndarray) -> np.ndarray:
        """Rowids (dead ones too) of the documents carrying any of these tags."""
        return self.tag_rowids[np.isin(self.tags, tag_ids)]

    def tag_ids_of(self, rowids: np.ndarray) -> np.ndarray:
        """All tag ids of these documents, concatenated (in no particular order)."""
        if rowids.size * 8 > self.tags.size:  # most documents: one pass over the flat list beats a gather
            chosen = np.zeros(self.last + 1, dtype=bool)
            chosen[rowids] = True
            return self.tags[chosen[self.tag_rowids]]
        starts, lengths = self.starts[rowids], self.lengths[rowids]
        total = int(lengths.sum())
        if not total:
            return np.zeros(0, dtype=np.int32)
        shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return self.tags[shift + np.arange(total)]


class PerVersion:
    """The last few values computed from one snapshot version, dropped when the file changes.

    What a search reads from the text index depends only on the text and the version: paging, a filter or a
    facet click repeats it (the same idea as Elasticsearch's per-refresh request cache).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.version = -1
        self.values: dict[Hashable, Any] = {}  # insertion order is recency: the first is the least recent

    def get(self, version: int, key: Hashable, compute: Callable[[], T]) -> T:
        if version != self.version:
            self.values.clear()
            self.version = version
        if key in self.values:
            value = self.values.pop(key)
        else:
            value = compute()
            if len(self.values) >= self.size:
                del self.values[next(iter(self.values))]
        self.values[key] = value
        return value

    def discard(self, version: int, key: Hashable) -> None:
        if version == self.version:
            self.values.pop(key, None)


def _grown(array: np.ndarray, size: int, fill: int) -> np.ndarray:
    if array.size >= size:
        return array
    grown = np.full(max(size, 2 * array.size), fill, dtype=array.dtype)
    grown[: array.size] = array
    return grown
