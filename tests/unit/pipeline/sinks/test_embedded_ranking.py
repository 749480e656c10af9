"""Embedded store, ranking: bm25 of the newest matches read on a connection of its own, merged by membership."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.search import SearchQuery
from pipeline.sinks.embedded_ranking import SCORE_UNIT, Ranked, Ranker
from pipeline.sinks.embedded_search import EmbeddedSearcher
from tests.unit.pipeline.sinks.factory import make_article
from tests.unit.pipeline.sinks.test_embedded import write


def test_lookup_scores_only_the_rows_it_holds() -> None:
    ranked = Ranked(np.array([2, 5, 9]), np.array([-1.0, -2.0, -3.0]))
    scored, values = ranked.lookup(np.array([1, 2, 5, 7, 9, 10]))
    assert scored.tolist() == [False, True, True, False, True, False]
    assert values.tolist() == [-1.0, -2.0, -3.0]
    empty = Ranked(np.zeros(0, dtype=np.int64), np.zeros(0))
    assert empty.lookup(np.array([1, 2]))[0].tolist() == [False, False]


def test_the_ranker_scores_the_newest_matches_up_to_a_rowid_to_2_to_the_minus_40(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    write(path, [make_article(f"https://a.com/{i}", title="غزة", text="غزة " * (i + 1)) for i in range(6)])
    ranker = Ranker(path)
    try:
        ranked = ranker.submit('"غزه"', last_rowid=5, window=3).result()
        rows = ranker.conn.execute(
            "SELECT rowid, bm25(fts, 4.0, 1.0) FROM fts WHERE fts MATCH '\"غزه\"' AND rowid <= 5 ORDER BY rowid"
        ).fetchall()
    finally:
        ranker.close()
    assert ranked.rowids.tolist() == [3, 4, 5]  # the newest three up to rowid 5, ascending
    expected = [score for _, score in rows[-3:]]
    assert len(set(expected)) == 3  # the texts differ in length: so do the scores
    assert all(abs(got - want) < SCORE_UNIT for got, want in zip(ranked.values.tolist(), expected, strict=True))
    # truncated toward zero, so never better than bm25 said, and the order of the scores is kept
    assert all(abs(got) <= abs(want) for got, want in zip(ranked.values.tolist(), expected, strict=True))
    assert np.argsort(ranked.values).tolist() == np.argsort(expected).tolist()


def test_a_write_between_the_two_reads_leaves_no_row_with_another_rows_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ranking connection reads after a commit the search's snapshot does not see, and misses a row the
    snapshot holds (replaced by the commit): that row is placed by date, unscored; the new one is not shown."""
    path = tmp_path / "s.sqlite3"
    articles = [make_article(f"https://a.com/{i}", title="غزة", text="غزة " * (i + 1)) for i in range(4)]
    write(path, articles)
    searcher = EmbeddedSearcher(path)
    original = Ranker._newest_scored

    def after_a_write(self: Ranker, expression: str, last_rowid: int, window: int) -> Ranked:
        changed = make_article("https://a.com/3", title="غزة", text="غزة غزة غزة غزة غزة")  # a new rowid for /3
        write(path, [changed])
        return original(self, expression, last_rowid, window)

    monkeypatch.setattr(Ranker, "_newest_scored", after_a_write)
    try:
        result = searcher.search(SearchQuery(text="غزة"))  # its snapshot was read before the ranking started
    finally:
        searcher.close()
    by_url = {hit.url.rsplit("/", 1)[1]: hit for hit in result.hits}
    assert sorted(by_url) == ["0", "1", "2", "3"] and result.total == 4
    assert by_url["3"].score is None  # its old rowid is gone for the ranker, kept by the snapshot
    assert all(by_url[key].score is not None for key in "012")
    assert result.hits[-1].url.endswith("/3")  # unscored rows follow the scored ones
