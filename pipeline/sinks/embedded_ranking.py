"""Embedded store (search side): bm25 scores of the newest text matches, read beside the matching.

FTS5 has no top-k pruning: bm25 costs about a microsecond per matching row, plus a pass over each phrase's
whole list (its row count) before the first score, so a word found in most of 100,000 documents would take
100 ms to rank. Relevance therefore ranks the newest ``window`` text matches; older ones follow by date.

The scores are read on a read-only connection of their own, in a thread, while the search's connection lists
every match: SQLite runs each statement without holding the GIL, so on two cores the ranking costs no extra
wall time (the two slowest bench queries: listing and ranking 39.6 ms one after the other, 22.7 ms side by side).
Each statement is one aggregate row, so the thread never takes the GIL back per row.

The two connections may see different commits (a write between their read transactions): the ranked rows are
bounded by the snapshot's last rowid, and ``Ranked.lookup`` answers by membership, so a row one connection saw
and the other did not is simply unscored (placed by date), never given another row's score.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.sinks.embedded_schema import connect
from pipeline.sinks.embedded_snapshot import ints

TITLE_WEIGHT = 4.0
# Scores travel as integers of 2^-40: printing 5,000 doubles in full ('%!.17g') was a fifth of the ranking
# statement, an integer costs what a rowid does. |bm25| stays far below 2^23, so the product is exact in a double
# and fits an int64; truncation keeps the order (two scores closer than 2^-40, 1e-12, become a tie, placed by date).
SCORE_UNIT = 2.0**-40
_NEWEST_SCORED = (
    f"SELECT group_concat(rowid), group_concat(CAST(score * {1 / SCORE_UNIT:.1f} AS INTEGER)) FROM ("
    f" SELECT rowid, bm25(fts, {TITLE_WEIGHT}, 1.0) AS score FROM fts"
    " WHERE fts MATCH ? AND rowid <= ? ORDER BY rowid DESC LIMIT ?)"
)


@dataclass(frozen=True)
class Ranked:
    """bm25 scores (lower is better) of some rows; ``rowids`` ascending."""

    rowids: np.ndarray
    values: np.ndarray

    def lookup(self, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which of ``rowids`` (ascending) were scored, their scores)."""
        if not self.rowids.size or not rowids.size:
            return np.zeros(rowids.size, dtype=bool), np.zeros(0, dtype=np.float64)
        # a position per rowid, not a binary search per row: a common word matches most documents
        position = np.full(int(max(rowids[-1], self.rowids[-1])) + 1, -1, dtype=np.int64)
        position[self.rowids] = np.arange(self.rowids.size)
        at = position[rowids]
        scored = at >= 0
        return scored, self.values[at[scored]]


class Ranker:
    """Scores the newest matches of an FTS5 expression on its own connection and thread."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path, readonly=True)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="akhbar-rank")

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.conn.close()

    def submit(self, expression: str, last_rowid: int, window: int) -> Future[Ranked]:
        """The scores of the newest ``window`` rows up to ``last_rowid`` that match ``expression``."""
        return self._thread.submit(self._newest_scored, expression, last_rowid, window)

    def _newest_scored(self, expression: str, last_rowid: int, window: int) -> Ranked:
        joined_rowids, joined_scores = self.conn.execute(_NEWEST_SCORED, (expression, last_rowid, window)).fetchone()
        rowids, values = ints(joined_rowids), ints(joined_scores) * SCORE_UNIT
        if rowids.size != values.size:  # a NULL score (group_concat skips it): never pair a row with the next score
            raise ValueError(f"bm25 gave {values.size} scores for {rowids.size} rows of {expression!r}")
        order = np.argsort(rowids, kind="stable")
        return Ranked(rowids[order], values[order])
