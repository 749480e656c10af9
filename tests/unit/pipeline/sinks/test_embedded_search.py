"""Embedded store, search side: prefixes matched through their indexed words, facets, passes kept per version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.search import SearchQuery, SearchResult
from pipeline.sinks import embedded_search
from pipeline.sinks.embedded_search import EmbeddedSearcher, match_expression
from pipeline.sinks.embedded_snapshot import PerVersion
from pipeline.sinks.querytext import parse_query
from tests.unit.pipeline.sinks.factory import make_article
from tests.unit.pipeline.sinks.test_embedded import write

TEXTS = {
    "1": "استهداف موقع عسكري قرب الحدود",
    "2": "استهدفت غارة سيارة في المدينة",
    "3": "والاستهداف مستمر منذ أيام",
    "4": "اجتماع في القاهرة لبحث التهدئة",
    "5": "استهدف القصف مستودعا للوقود",
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "search.sqlite3"
    articles = [
        make_article(f"https://a.com/{key}", title=text, text=text, source="bbc" if key in "12" else "cnn")
        for key, text in TEXTS.items()
    ]
    write(path, articles)
    return path


def run(path: Path, **kwargs: Any) -> SearchResult:
    searcher = EmbeddedSearcher(path)
    try:
        return searcher.search(SearchQuery(**kwargs))
    finally:
        searcher.close()


def keys(result: SearchResult) -> list[str]:
    return [hit.url.rsplit("/", 1)[1] for hit in result.hits]


def test_a_prefix_with_few_indexed_words_matches_as_those_words(store: Path) -> None:
    searcher = EmbeddedSearcher(store)
    try:
        searcher.search(SearchQuery())  # reads the snapshot: the word lists are kept per snapshot version
        words = searcher._prefix_terms("استهد")
        parsed = parse_query("استهد* -مستمر", searcher.analyzer)
        matching = match_expression(parsed, searcher._indexed_forms, searcher._indexed_prefixes, searcher._prefix_terms)
    finally:
        searcher.close()
    assert set(words) == {"استهداف", "استهدفت", "استهدف", "والاستهداف"}  # and the word behind a proclitic
    assert matching[0] is not None and "*" not in matching[0]
    assert "مستمر" in matching[0]


@pytest.mark.parametrize("limit", [1, 16])  # one: every prefix has too many words and stays a prefix query
def test_prefix_results_do_not_depend_on_how_the_prefix_is_matched(
    store: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(embedded_search, "PREFIX_TERMS", limit)
    result = run(store, text="استهد*")
    assert sorted(keys(result)) == ["1", "2", "3", "5"]
    assert result.total == 4
    assert all(hit.score is not None for hit in result.hits)  # ranked by bm25 either way
    assert sorted(keys(run(store, text="-استهد*"))) == ["4"]
    assert sorted(keys(run(store, text="استهد* -مستودعا"))) == ["1", "2", "3"]
    assert keys(run(store, text="استهدا*", sort="date")) == keys(run(store, text="استهداف", sort="date"))


def test_a_prefix_without_indexed_words_matches_nothing(store: Path) -> None:
    assert run(store, text="ققق*").total == 0


def test_facets_of_a_word_in_most_documents_count_only_those_documents(store: Path) -> None:
    result = run(store, text="استهد*")  # four of five documents: counted as all minus the one left out
    assert [(v.value, v.count) for v in result.facets["source"]] == [("bbc", 2), ("cnn", 2)]
    every = run(store)
    assert [(v.value, v.count) for v in every.facets["source"]] == [("cnn", 3), ("bbc", 2)]
    assert [(v.value, v.count) for v in run(store, text="القاهرة").facets["source"]] == [("cnn", 1)]


def test_a_searcher_kept_open_sees_documents_written_after_its_first_search(store: Path) -> None:
    searcher = EmbeddedSearcher(store)
    try:
        assert searcher.search(SearchQuery(text="استهد*")).total == 4
        assert searcher.search(SearchQuery(text="استهد*", offset=2)).total == 4  # the kept passes
        write(store, [make_article("https://a.com/6", title="استهدفت غارة جسرا", text="استهدفت غارة جسرا")])
        result = searcher.search(SearchQuery(text="استهد*"))
    finally:
        searcher.close()
    assert result.total == 5
    assert "6" in keys(result)
    assert all(hit.score is not None for hit in result.hits)


def test_per_version_values_are_dropped_when_the_version_changes_and_the_least_recent_first() -> None:
    kept = PerVersion(2)
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return key.upper()

    def value(key: str) -> str:
        return kept.get(1, key, lambda: compute(key))

    assert [value("a"), value("b"), value("a"), value("c"), value("a"), value("b")] == ["A", "B", "A", "C", "A", "B"]
    assert computed == ["a", "b", "c", "b"]  # "b" was the least recent when "c" came
    assert kept.get(2, "a", lambda: "new") == "new"
