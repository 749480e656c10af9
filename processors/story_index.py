"""Story clustering (enrichment stage): the in-memory index of recent articles and their place/actor postings.

Each indexed article gets a serial number, so that the posting lists are arrays of integers: ranking the
candidates of an article (most shared keys first) counts a few thousand postings with numpy instead of a
Python Counter over id strings. Only the candidates that can make the cut are ordered by id (the tie-break
every worker applies the same way). `expire` renumbers the survivors, so the serials stay dense.
"""

from __future__ import annotations

import base64
from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np


def recent_counts(
    chunks: list[array[int]], times: np.ndarray, moment: float, window: float, excluded: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(serials, how many of ``chunks`` hold each) of the serials in ``chunks`` (int64 arrays) whose
    time is within ``window`` of ``moment``, ``excluded`` left out. Serials are dense, so the count array is short."""
    joined = np.frombuffer(b"".join(chunks), dtype=np.int64)
    if not len(joined):
        return joined, joined
    lowest = int(joined.min())
    counts = np.bincount(joined - lowest)
    serials = np.flatnonzero(counts)
    counts = counts[serials]
    serials += lowest
    keep = np.abs(moment - times[serials]) <= window
    if excluded is not None:
        keep &= serials != excluded
    return serials[keep], counts[keep]


@dataclass(frozen=True)
class Stored:
    """What clustering keeps of an assigned article."""

    cluster: str
    time: float
    keys: frozenset[str]
    words: np.ndarray

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Stored:
        return cls(str(entry["c"]), float(entry["t"]), frozenset(entry["k"]), unpack(entry["w"]))


class StoryIndex:
    """What clustering looks up, in memory: the recent articles (cluster, time, keys, content words) and, per
    place/actor key, the newest ``max_postings`` of them.

    Derived from the `s:` entries of the store, so never persisted (``StoryClusterer.rebuild_index``). Memory:
    about 2 KB per article in the window (its 400 word hashes), plus the posting lists (8 bytes an entry)."""

    def __init__(self, max_postings: int) -> None:
        self.max_postings = max_postings
        self.articles: dict[str, Stored] = {}
        self.postings: dict[str, array[int]] = {}  # key → serials, the oldest first
        self._serials: dict[str, int] = {}
        self._ids: list[str] = []  # by serial
        self._times = np.empty(0)  # by serial; NaN once expired, so never within a window

    def add(self, article_id: str, stored: Stored) -> None:
        self.articles[article_id] = stored
        serial = self._serials.get(article_id)
        again = serial is not None
        if serial is None:
            serial = self._serials[article_id] = len(self._ids)
            self._ids.append(article_id)
            if serial >= len(self._times):
                self._times = np.concatenate((self._times, np.full(max(1024, serial), np.nan)))
        self._times[serial] = stored.time
        for key in stored.keys:
            posting = self.postings.get(key)
            if posting is None:
                posting = self.postings[key] = array("q")
            elif again and serial in posting:
                posting.remove(serial)  # an article indexed again moves to the newest end
            posting.append(serial)
            if len(posting) > self.max_postings:
                del posting[0]

    def ranked(
        self, keys: list[str], moment: float, window: float, exclude: str, limit: int, first: str | None = None
    ) -> list[str]:
        """The ``limit`` recent articles (within ``window`` seconds of ``moment``) sharing most of ``keys``, ties
        by id (deterministic on every worker); ``first``, when it is not one of them anyway, leads the list."""
        serials, counts = self._hits(keys, moment, window, exclude)
        first_serial = self._serials.get(first) if first else None
        lead = [first] if first and (first_serial is None or not np.any(serials == first_serial)) else []
        wanted = limit - len(lead)
        if wanted <= 0 or not len(serials):
            return lead
        if len(serials) > wanted:
            # The wanted-th largest count: every article above it is in, the ties at it compete by id.
            threshold = int(np.partition(counts, len(counts) - wanted)[len(counts) - wanted])
            above = counts > threshold
            tied = sorted(map(self._ids.__getitem__, serials[counts == threshold].tolist()))
            ranked = self._by_count(serials[above], counts[above])
            ranked += [(-threshold, i) for i in tied[: wanted - len(ranked)]]
        else:
            ranked = self._by_count(serials, counts)
        ranked.sort()
        return lead + [i for _, i in ranked]

    def _by_count(self, serials: np.ndarray, counts: np.ndarray) -> list[tuple[int, str]]:
        """(−shared keys, id) pairs: sorted, the most shared first, then by id."""
        return [(-n, self._ids[serial]) for serial, n in zip(serials.tolist(), counts.tolist(), strict=True)]

    def _hits(self, keys: list[str], moment: float, window: float, exclude: str) -> tuple[np.ndarray, np.ndarray]:
        """(serials, shared keys) of the recent articles in the postings of ``keys``, ``exclude`` left out."""
        postings = self.postings
        chunks = [postings[key] for key in keys if key in postings]
        return recent_counts(chunks, self._times, moment, window, self._serials.get(exclude))

    def expire(self, cutoff: float) -> None:
        self.articles = {i: stored for i, stored in self.articles.items() if stored.time >= cutoff}
        renumbered = np.full(len(self._ids), -1, dtype=np.int64)
        survivors = [serial for serial, i in enumerate(self._ids) if i in self.articles]
        renumbered[survivors] = np.arange(len(survivors))
        self._ids = [self._ids[serial] for serial in survivors]
        self._serials = {i: serial for serial, i in enumerate(self._ids)}
        self._times = np.full(max(1024, len(self._ids)), np.nan)
        self._times[: len(self._ids)] = [self.articles[i].time for i in self._ids]
        for key in list(self.postings):
            kept = renumbered[np.frombuffer(self.postings[key], dtype=np.int64)]
            if (kept >= 0).any():
                self.postings[key] = array("q", kept[kept >= 0].tobytes())
            else:
                del self.postings[key]

    def clear(self) -> None:
        self.articles.clear()
        self.postings.clear()
        self._serials.clear()
        self._ids.clear()
        self._times = np.empty(0)


def pack(words: np.ndarray) -> str:
    return base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")


def unpack(packed: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed), dtype="<u4")
