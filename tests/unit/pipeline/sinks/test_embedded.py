"""Embedded store: idempotent writes, duplicates folded into reported_by, rejections, search behaviour."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.search import SearchQuery
from pipeline.settings import Settings
from pipeline.sinks.analysis import Analyzer
from pipeline.sinks.base import open_sink
from pipeline.sinks.embedded import EmbeddedStore
from pipeline.sinks.embedded_schema import FTS, fts_text
from pipeline.sinks.embedded_search import EmbeddedSearcher, StoreNotFound
from pipeline.sinks.embedded_sink import EmbeddedSink
from processors.errors import ConfigError, TransientError
from processors.normalize import normalize_arabic
from tests.unit.pipeline.sinks.factory import make_article

BATCH = 20  # a batch size for the tests that put failures and duplicates inside a batch


def write(path: Path, *batches: list) -> list:
    async def run() -> list:
        sink = EmbeddedSink(path)
        await sink.open()
        try:
            return [await sink.write(batch) for batch in batches]
        finally:
            await sink.close()

    return asyncio.run(run())


def search(path: Path, **kwargs) -> object:
    searcher = EmbeddedSearcher(path)
    try:
        return searcher.search(SearchQuery(**kwargs))
    finally:
        searcher.close()


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "search.sqlite3"


def test_open_sink_picks_the_embedded_store_without_elasticsearch(tmp_path: Path) -> None:
    sink = open_sink(Settings(data_dir=tmp_path, elasticsearch_url=None))
    assert isinstance(sink, EmbeddedSink)
    assert sink.store.path == tmp_path / "search.sqlite3"


def test_same_batch_twice_changes_nothing(store: Path) -> None:
    batch = [make_article(f"https://example.com/{i}", title=f"خبر رقم {i}") for i in range(5)]
    assert write(store, batch, batch) == [[], []]
    assert count_rows(store, "docs") == 5
    assert count_rows(store, "fts") == 5
    assert search(store, text="خبر").total == 5


def test_updated_article_replaces_its_document(store: Path) -> None:
    write(store, [make_article(title="عنوان قديم")], [make_article(title="عنوان جديد")])
    assert search(store, text="قديم").total == 0
    assert search(store, text="جديد").total == 1
    assert count_rows(store, "docs") == 1


def test_documents_are_stored_as_json_text_on_every_write_path(store: Path) -> None:
    """Fresh batches, replaced documents and folded duplicates all store the document as TEXT, not a BLOB."""
    original = make_article("https://a.com/1", source="a", title="عنوان أول")
    duplicate = make_article("https://b.com/1", source="b", dedup={"status": "duplicate", "duplicate_of": original.id})
    write(store, [duplicate], [original], [make_article("https://a.com/1", source="a", title="عنوان ثان")])
    with sqlite3.connect(store) as conn:
        stored = conn.execute("SELECT typeof(doc), json_extract(doc, '$.title') FROM bodies").fetchall()
    assert stored == [("text", "عنوان ثان")]


def test_duplicate_adds_to_the_original_reported_by_once(store: Path) -> None:
    original = make_article("https://a.com/1", source="a")
    duplicate = make_article(
        "https://b.com/1", source="b", dedup={"status": "near_duplicate", "duplicate_of": original.id}
    )
    write(store, [original, duplicate], [duplicate], [original])
    result = search(store, text="غارات")
    assert result.total == 1
    hit = result.hits[0]
    assert [entry["id"] for entry in hit.reported_by] == [duplicate.id]
    assert (hit.reported_count, hit.outlet_count) == (2, 2)


def test_duplicate_without_original_is_indexed_then_folded_when_the_original_comes(store: Path) -> None:
    original = make_article("https://a.com/1", source="a")
    duplicate = make_article("https://b.com/1", source="b", dedup={"status": "duplicate", "duplicate_of": original.id})
    write(store, [duplicate])
    assert search(store, text="غارات").total == 1  # never lose one
    write(store, [original])
    result = search(store, text="غارات")
    assert result.total == 1
    assert result.hits[0].id == original.id
    assert [entry["id"] for entry in result.hits[0].reported_by] == [duplicate.id]


def test_an_unencodable_article_is_rejected_and_the_rest_indexed(store: Path) -> None:
    good = make_article("https://a.com/ok")
    bad = make_article("https://a.com/bad", title="نص \ud800 مكسور")
    results = write(store, [good, bad])
    assert [r.article_id for r in results[0]] == [bad.id]
    assert "UnicodeEncodeError" in results[0][0].reason
    assert search(store).total == 1


def _failing_for(monkeypatch, article_id: str, error: Exception) -> None:
    """Make storing one article's row fail inside the transaction (after its item was built)."""
    docs_row = EmbeddedStore._docs_row

    def failing(rowid, doc, digest, tag_ids):  # type: ignore[no-untyped-def]
        if doc["id"] == article_id:
            raise error
        return docs_row(rowid, doc, digest, tag_ids)

    monkeypatch.setattr(EmbeddedStore, "_docs_row", staticmethod(failing))


def test_an_item_failing_inside_the_transaction_is_rejected_alone(store: Path, monkeypatch) -> None:
    """Found inside the batch's transaction: the batch is redone one by one, only the item is rejected."""
    batch = [make_article(f"https://a.com/{i}", title=f"خبر رقم {i}") for i in range(3 * BATCH + 5)]
    failing = batch[BATCH + 1]  # in the middle of the batch
    _failing_for(monkeypatch, failing.id, OverflowError("Python int too large to convert to SQLite INTEGER"))
    [rejections] = write(store, batch)
    assert [(r.article_id, r.reason.split(":")[0]) for r in rejections] == [(failing.id, "OverflowError")]
    assert count_rows(store, "docs") == count_rows(store, "fts") == len(batch) - 1
    assert search(store, text="خبر").total == len(batch) - 1


def test_a_store_error_inside_the_transaction_rolls_the_whole_batch_back(store: Path, monkeypatch) -> None:
    batch = [make_article(f"https://a.com/{i}", title=f"خبر رقم {i}") for i in range(2 * BATCH)]
    write(store, [make_article("https://a.com/kept", title="خبر سابق")])
    before = [count_rows(store, table) for table in ("docs", "bodies", "fts", "doc_tags", "tags")]
    _failing_for(monkeypatch, batch[-1].id, sqlite3.OperationalError("disk I/O error"))
    with pytest.raises(TransientError, match="disk I/O error"):
        write(store, batch)
    assert [count_rows(store, table) for table in ("docs", "bodies", "fts", "doc_tags", "tags")] == before
    monkeypatch.undo()
    assert write(store, batch) == [[]]  # and the next write goes through, tag ids read afresh
    assert search(store, text="خبر").total == len(batch) + 1
    assert search(store, places=["دير الزور"]).total == len(batch) + 1


def test_duplicates_fold_into_originals_anywhere_in_the_batch(store: Path) -> None:
    originals = [make_article(f"https://a.com/{i}", source="a") for i in range(2 * BATCH)]
    duplicates = [
        make_article(f"https://b.com/{i}", source="b", dedup={"status": "duplicate", "duplicate_of": o.id})
        for i, o in enumerate(originals[::7])
    ]
    assert write(store, [*duplicates, *originals, originals[3]]) == [[]]  # one original twice
    result = search(store, text="غارات", limit=100)
    assert result.total == len(originals)
    folded = {hit.id: [entry["id"] for entry in hit.reported_by] for hit in result.hits if hit.reported_by}
    assert folded == {o.id: [d.id] for o, d in zip(originals[::7], duplicates, strict=True)}


def test_a_locked_store_raises_transient_error(store: Path) -> None:
    async def run() -> None:
        sink = EmbeddedSink(store)
        await sink.open()
        sink.store.conn.execute("PRAGMA busy_timeout = 50")
        blocker = sqlite3.connect(store)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(TransientError, match="locked"):
                await sink.write([make_article("https://a.com/2")])
        finally:
            blocker.rollback()
            blocker.close()
        assert await sink.write([make_article("https://a.com/2")]) == []  # and it recovers
        await sink.close()

    asyncio.run(run())


def test_readers_search_while_a_writer_holds_a_transaction(store: Path) -> None:
    writer = EmbeddedStore(store)
    writer.open()
    writer.write([make_article()])
    writer.conn.execute("BEGIN IMMEDIATE")
    try:
        assert search(store, text="غارات").total == 1
    finally:
        writer.conn.execute("ROLLBACK")
        writer.close()


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound, match="no search store"):
        EmbeddedSearcher(tmp_path / "nothing.sqlite3")


def test_a_store_whose_schema_is_not_written_yet_is_no_store_yet(tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite3"
    sqlite3.connect(path).close()  # the file the writer creates before it commits the schema
    with pytest.raises(StoreNotFound, match="no search store"):
        EmbeddedSearcher(path)


@pytest.fixture
def corpus(store: Path) -> Path:
    write(
        store,
        [
            make_article(
                "https://a.com/1",
                title="قصف إسرائيلي على غزة",
                text="استشهد خمسة فلسطينيين في قصف إسرائيلي على مدينة غزة صباح اليوم.",
                source="aljazeera",
                published_at=datetime(2024, 11, 10, tzinfo=UTC),
                places=[{"name": "غزة", "country_code": "PS", "lat": 31.5, "lon": 34.47}],
                persons=["يحيى السنوار"],
                events=["airstrike"],
                killed=5,
            ),
            make_article(
                "https://b.com/2",
                title="الجيش اللبناني ينتشر في الجنوب",
                text="انتشر الجيش اللبناني في بلدات الجنوب بعد وقف إطلاق النار في لبنان.",
                source="bbc",
                published_at=datetime(2024, 11, 20, tzinfo=UTC),
                places=[{"name": "بيروت", "country_code": "LB", "lat": 33.89, "lon": 35.5}],
                organizations=["الجيش اللبناني"],
                events=["deployment"],
            ),
            make_article(
                "https://c.com/3",
                title="مستشفيات غزة خارج الخدمة",
                text="أعلنت وزارة الصحة أن مستشفيات قطاع غزة خرجت عن الخدمة بسبب نفاد الوقود.",
                source="bbc",
                published_at=datetime(2024, 11, 15, tzinfo=UTC),
                places=[{"name": "غزة", "country_code": "PS", "lat": 31.5, "lon": 34.47}],
                organizations=["وزارة الصحة"],
            ),
        ],
    )
    return store


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("غزة", {"1", "3"}),
        ("غزه", {"1", "3"}),  # normalisation: ة and ه match
        ("بغزة", {"1", "3"}),  # stem override folds clitic forms of names
        ("الفلسطينيون", {"1"}),  # light stemming: فلسطينيين / الفلسطينيون
        ("مستشفى", {"3"}),
        ('"وقف إطلاق النار"', {"2"}),
        ('"إطلاق وقف"', set()),  # a phrase keeps its word order
        ("مستش*", {"3"}),
        ("غزة -مستشفيات", {"1"}),
        ("لبنان OR الوقود", {"2", "3"}),
        ("قَصْفٌ", {"1"}),  # diacritics ignored
        ("٥ OR خمسة", {"1"}),
    ],
)
def test_arabic_matching(corpus: Path, text: str, expected: set[str]) -> None:
    result = search(corpus, text=text)
    assert {hit.url.rsplit("/", 1)[1] for hit in result.hits} == expected
    assert result.total == len(expected)


def test_filters_combine(corpus: Path) -> None:
    assert search(corpus, sources=["bbc"]).total == 2
    assert search(corpus, sources=["bbc"], places=["غزه"]).total == 1
    assert search(corpus, countries=["ps"]).total == 2
    assert search(corpus, persons=["يحيى السنوار"]).total == 1
    assert search(corpus, organizations=["وزارة الصحة", "الجيش اللبناني"]).total == 2
    assert search(corpus, event_types=["airstrike"]).total == 1
    since = datetime(2024, 11, 12, tzinfo=UTC)
    assert search(corpus, since=since).total == 2
    assert search(corpus, since=since, until=datetime(2024, 11, 16, tzinfo=UTC)).total == 1


def test_sort_by_date_and_paging(corpus: Path) -> None:
    result = search(corpus, sort="date")
    assert [hit.url[-1] for hit in result.hits] == ["2", "3", "1"]
    page = search(corpus, sort="date", limit=1, offset=1)
    assert [hit.url[-1] for hit in page.hits] == ["3"]
    assert page.total == 3


def test_relevance_prefers_title_matches(corpus: Path) -> None:
    result = search(corpus, text="مستشفيات")
    assert result.hits[0].url.endswith("/3")
    assert result.hits[0].score is not None


def test_facets_count_every_matching_document(corpus: Path) -> None:
    facets = search(corpus, text="غزة").facets
    assert [(v.value, v.count) for v in facets["source"]] == [("aljazeera", 1), ("bbc", 1)]
    assert [(v.value, v.count) for v in facets["place"]] == [("غزة", 2)]
    assert [(v.value, v.count) for v in facets["country"]] == [("PS", 2)]
    assert [(v.value, v.count) for v in facets["person"]] == [("يحيى السنوار", 1)]


def test_highlights_mark_the_original_words(corpus: Path) -> None:
    hit = search(corpus, text="مستشفى").hits[0]
    assert ("مستشفيات", True) in hit.title_highlight
    assert "".join(piece for piece, _ in hit.title_highlight) == "مستشفيات غزة خارج الخدمة"
    assert any(matched and piece == "مستشفيات" for piece, matched in hit.snippet)


def test_relevance_ranks_the_newest_window_then_falls_back_to_date(store: Path, monkeypatch) -> None:
    from pipeline.sinks import embedded_search

    weak = "ذكر عابر لكلمة غزة في نص طويل " + "كلام آخر " * 40
    articles = [
        make_article("https://a.com/old-strong", title="غزة غزة", text="غزة غزة غزة"),
        make_article("https://a.com/new-weak", title="خبر", text=weak),
        make_article("https://a.com/newest-strong", title="غزة", text="غزة غزة"),
    ]
    write(store, *[[article] for article in articles])  # indexed in this order: rowids ascend
    first = search(store, text="غزة").hits[0]
    assert first.url.endswith(("old-strong", "newest-strong"))  # the whole set is ranked: a strong match leads
    monkeypatch.setattr(embedded_search, "RANK_WINDOW", 2)
    hits = search(store, text="غزة").hits
    assert [h.url.rsplit("/", 1)[1] for h in hits] == ["newest-strong", "new-weak", "old-strong"]
    assert hits[2].score is None  # outside the window: not scored, placed by date


SCHEMA_3 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs(rowid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, published_ts INTEGER,
  duplicate_of TEXT, content_hash TEXT NOT NULL, tag_ids BLOB NOT NULL);
CREATE TABLE bodies(rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE tags(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  UNIQUE(kind, key));
CREATE TABLE doc_tags(tag INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(tag, doc)) WITHOUT ROWID;
CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE fts_terms USING fts5vocab(fts, 'row');
"""

SCHEMA_4_FTS = (
    "CREATE VIRTUAL TABLE fts USING fts5(title, body, content = '', tokenize = 'unicode61 remove_diacritics 0')"
)


def test_a_schema_3_store_is_migrated_on_open_and_keeps_its_documents(store: Path) -> None:
    write(store, [make_article("https://a.com/1", title="قصف على غزة"), make_article("https://a.com/2")])
    with sqlite3.connect(store) as conn:  # the same documents as the previous layout held them
        rows = conn.execute("SELECT d.*, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid").fetchall()
        tags = conn.execute("SELECT * FROM tags").fetchall()
        doc_tags = conn.execute("SELECT * FROM doc_tags").fetchall()
    old = store.with_name("old.sqlite3")
    with sqlite3.connect(old) as conn:
        conn.executescript(SCHEMA_3)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '3')")
        for *columns, doc in rows:
            conn.execute("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", columns)
            conn.execute("INSERT INTO bodies VALUES (?, ?)", (columns[0], doc))
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, ?)", tags)
        conn.executemany("INSERT INTO doc_tags VALUES (?, ?)", doc_tags)
    assert write(old, [make_article("https://a.com/2", title="خبر معدل")]) == [[]]  # opens, migrates, updates
    assert {hit.url for hit in search(old, text="غزة").hits} == {"https://a.com/1"}
    assert {hit.url for hit in search(old, text="معدل").hits} == {"https://a.com/2"}
    assert search(old, text="غارات").total == 2  # both bodies, indexed again from the stored documents
    assert count_rows(old, "docs") == count_rows(old, "fts") == 2
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)


def test_a_schema_4_store_gets_its_text_index_rebuilt_on_open(store: Path) -> None:
    """Schema 4 indexed with unicode61, which keeps a combining mark NFKC cannot compose in the word (the query
    side does not): the index is rebuilt on open with the query side's words, and a rewrite still deletes them."""
    write(store, [make_article("https://a.com/1", title="قصف على غزة\u0301"), make_article("https://a.com/2")])
    with sqlite3.connect(store) as conn:  # the same documents, indexed as schema 4 did
        bodies = conn.execute("SELECT rowid, doc FROM bodies").fetchall()
        conn.execute("DROP TABLE fts_terms")
        conn.execute("DROP TABLE fts")
        conn.execute(SCHEMA_4_FTS)
        conn.execute("CREATE VIRTUAL TABLE fts_terms USING fts5vocab(fts, 'row')")
        for rowid, doc in bodies:
            fields = json.loads(doc)
            old = (normalize_arabic(fields["title"]), normalize_arabic(fields["text"]))
            conn.execute("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", (rowid, *old))
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    assert search(store, text="غزة").total == 0  # the index holds "غزه\u0301"
    write(store, [])  # opening the store rebuilds the index
    assert search(store, text="غزة").total == 1
    assert write(store, [make_article("https://a.com/1", title="خبر معدل")]) == [[]]
    assert search(store, text="غزة").total == 0
    assert search(store, text="معدل").total == 1
    assert search(store, text="غارات").total == 2
    assert count_rows(store, "docs") == count_rows(store, "fts") == 2
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)


def _fts_tokens(texts: list[str]) -> list[list[str]]:
    """What the store's FTS5 table makes of each text, token by token."""
    conn = sqlite3.connect(":memory:")
    for statement in FTS.split(";")[:1]:
        conn.execute(statement)
    conn.execute("CREATE VIRTUAL TABLE fts_instances USING fts5vocab(fts, 'instance')")
    conn.executemany("INSERT INTO fts(rowid, title, body) VALUES (?, '', ?)", enumerate(texts, start=1))
    tokens: list[list[str]] = [[] for _ in texts]
    for term, doc in conn.execute("SELECT term, doc FROM fts_instances ORDER BY doc, offset"):
        tokens[doc - 1].append(term)
    return tokens


def test_the_index_holds_the_words_the_query_side_finds_over_all_of_unicode() -> None:
    """Every code point, inside a word and alone: FTS5's tokens of ``fts_text`` are ``Analyzer.words`` (as FTS5
    tokenizes a quoted query word: split at ``_``), so an indexed text and a query agree on every character."""
    points = [chr(c) for c in range(1, sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    texts = [" ".join(f"ب{p}a{p}" for p in points[i : i + 2048]) for i in range(0, len(points), 2048)]
    texts += ["، ".join(points[i : i + 2048]) for i in range(0, len(points), 2048)]
    words = [[piece for word in Analyzer().words(text) for piece in word.split("_") if piece] for text in texts]
    assert _fts_tokens([fts_text(text) for text in texts]) == words


def test_another_normaliser_rebuilds_the_text_index(store: Path) -> None:
    write(store, [make_article(title="عنوان قديم")])
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE meta SET value = 'other' WHERE key = 'normaliser'")
        conn.execute("INSERT INTO fts(fts, rowid, title, body) VALUES ('delete', 1, 'عنوان قديم', '')")  # damage
    assert search(store, text="قديم").total == 0
    write(store, [])  # opening the store rebuilds the index from the stored documents
    assert search(store, text="قديم").total == 1
    write(store, [make_article(title="عنوان جديد")])  # and a rewrite still removes the old words
    assert search(store, text="قديم").total == 0
    assert search(store, text="جديد").total == 1


def test_an_unknown_schema_is_refused(store: Path) -> None:
    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '9')")
    with pytest.raises(ConfigError, match="schema 9"):
        EmbeddedStore(store).open()
