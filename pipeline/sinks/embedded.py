"""Embedded store (index side): SQLite FTS5 in the data directory, the default sink without Elasticsearch.

One file, WAL journal (readers search while the pipeline writes), one writer. ``bodies`` holds the stored
document (the same shape Elasticsearch stores); ``docs`` its small per-document columns; ``fts`` the normalised
title and body (FTS5 tokenizes them; stemming happens at query time by expansion, see ``analysis``);
``tags``/``doc_tags`` the facet values that filters match; ``docs.tag_ids`` the packed tag ids of a document.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from array import array
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from pipeline.sinks.base import Rejection
from pipeline.sinks.documents import (
    content_hash,
    is_duplicate,
    merge_reported,
    reported_entry,
    to_document,
    with_reported,
)
from processors.errors import TransientError
from processors.normalize import normalize_arabic
from processors.records import EnrichedArticle

SCHEMA_VERSION = "3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs(
  rowid INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: searchers cache per-rowid columns
  id TEXT NOT NULL UNIQUE,
  published_ts INTEGER,
  duplicate_of TEXT,
  content_hash TEXT NOT NULL,
  tag_ids BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bodies(rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_published ON docs(published_ts);
CREATE INDEX IF NOT EXISTS docs_duplicate_of ON docs(duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE TABLE IF NOT EXISTS tags(
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, UNIQUE(kind, key)
);
CREATE TABLE IF NOT EXISTS doc_tags(tag INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(tag, doc))
  WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS fts_terms USING fts5vocab(fts, 'row');
"""
_ITEM_ERRORS = (UnicodeError, ValueError, TypeError, OverflowError, sqlite3.DataError, sqlite3.IntegrityError)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def document_tags(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(facet, display value) pairs of a document: what filters match and facets count."""
    tags = [("source", doc["source"])]
    tags += [("country", code) for code in doc["country_codes"]]
    tags += [("place", place["name"]) for place in doc["places"]]
    tags += [("person", name) for name in doc["persons"]]
    tags += [("organization", name) for name in doc["organizations"]]
    tags += [("event_type", name) for name in doc["event_types"]]
    return tags


def _timestamp(iso: str | None) -> int | None:
    return int(datetime.fromisoformat(iso).timestamp()) if iso else None


class EmbeddedStore:
    """The synchronous store: one writer connection, batches in one transaction, savepoint per article."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._tag_ids: dict[tuple[str, str], int] = {}

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MB: FTS5 segment merges stay in memory
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("EmbeddedStore.open() was not called")
        return self._conn

    def write(self, articles: list[EnrichedArticle]) -> list[Rejection]:
        """Index a batch in one transaction (originals first, so a duplicate finds an original of its batch).

        Items are checked before the transaction; the transaction runs without per-item savepoints because
        releasing a savepoint makes FTS5 flush a segment per article (4x slower). If an item still fails
        inside, the batch is redone with a savepoint per item, so only that item is rejected.
        """
        rejections: list[Rejection] = []
        prepared: list[tuple[EnrichedArticle, dict[str, Any]]] = []
        for article in sorted(articles, key=is_duplicate):
            try:
                document = to_document(article)
                to_json(document)  # lone surrogates and other unencodable text fail here, before SQLite
                prepared.append((article, document))
            except _ITEM_ERRORS as exc:
                rejections.append(_rejection(article, exc))
        try:
            self._transaction(prepared, per_item=False)
        except _ITEM_ERRORS:
            rejections += self._transaction(prepared, per_item=True)
        return rejections

    def _transaction(self, prepared: list[tuple[EnrichedArticle, dict[str, Any]]], per_item: bool) -> list[Rejection]:
        rejections: list[Rejection] = []
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for article, document in prepared:
                if not per_item:
                    self._write_one(article, document)
                    continue
                conn.execute("SAVEPOINT item")
                try:
                    self._write_one(article, document)
                except _ITEM_ERRORS as exc:
                    conn.execute("ROLLBACK TO item")
                    self._tag_ids.clear()
                    rejections.append(_rejection(article, exc))
                conn.execute("RELEASE item")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._tag_ids.clear()  # ids inserted by the rolled-back transaction no longer exist
            raise
        return rejections

    def _write_one(self, article: EnrichedArticle, document: dict[str, Any]) -> None:
        if is_duplicate(article):
            original = self._load(article.dedup.duplicate_of or "")
            if original is not None:
                earlier = self._load(article.id)  # this duplicate, indexed alone before its original came
                gathered = earlier[1].get("reported_by") or [] if earlier else []
                self._add_reported(original, [reported_entry(article), *gathered])
                if earlier is not None:
                    self._delete_rowid(earlier[0])
                return
        self._index(article, document)

    def _load(self, article_id: str) -> tuple[int, dict[str, Any]] | None:
        row = self.conn.execute(
            "SELECT d.rowid, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid WHERE d.id = ?", (article_id,)
        ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def _add_reported(self, original: tuple[int, dict[str, Any]], entries: list[dict[str, Any]]) -> None:
        rowid, doc = original
        merged = merge_reported(doc.get("reported_by") or [], entries, doc["id"])
        if merged != doc.get("reported_by"):
            updated = to_json(with_reported(doc, merged)).decode()
            self.conn.execute("UPDATE bodies SET doc = ? WHERE rowid = ?", (updated, rowid))

    def _index(self, article: EnrichedArticle, doc: dict[str, Any]) -> None:
        existing = self.conn.execute(
            "SELECT d.rowid, b.doc, d.content_hash FROM docs d JOIN bodies b ON b.rowid = d.rowid WHERE d.id = ?",
            (article.id,),
        ).fetchone()
        stored_reported = json.loads(existing[1]).get("reported_by", []) if existing else []
        orphans = self._orphans(article.id)
        orphan_entries = [entry for _, orphan in orphans for entry in _as_reported(orphan)]
        merged = merge_reported(stored_reported, doc["reported_by"] + orphan_entries, article.id)
        doc = with_reported(doc, merged)
        digest = content_hash(doc)
        if existing and existing[2] == digest:
            if merged != stored_reported:
                self._add_reported((existing[0], json.loads(existing[1])), merged)
        else:
            self._upsert(doc, digest, existing[0] if existing else None)
        for orphan_rowid, _ in orphans:
            self._delete_rowid(orphan_rowid)

    def _orphans(self, article_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Duplicates indexed as their own documents because their original was not here yet."""
        rows = self.conn.execute(
            "SELECT d.rowid, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid WHERE d.duplicate_of = ?",
            (article_id,),
        )
        return [(rowid, json.loads(doc)) for rowid, doc in rows.fetchall()]

    def _upsert(self, doc: dict[str, Any], content_hash: str, rowid: int | None) -> None:
        if rowid is not None:
            self._delete_rowid(rowid)
        tag_ids = [self._tag_id(kind, value) for kind, value in document_tags(doc)]
        tag_ids = sorted(set(tag_ids))
        duplicate_of = doc["dedup"]["duplicate_of"] if doc["dedup"]["status"] != "unique" else None
        cursor = self.conn.execute(
            "INSERT INTO docs(id, published_ts, duplicate_of, content_hash, tag_ids) VALUES (?,?,?,?,?)",
            (
                doc["id"],
                _timestamp(doc["published_at"]),
                duplicate_of,
                content_hash,
                array("i", tag_ids).tobytes(),
            ),
        )
        new_rowid = cursor.lastrowid
        self.conn.execute("INSERT INTO bodies(rowid, doc) VALUES (?, ?)", (new_rowid, to_json(doc).decode()))
        self.conn.execute(
            "INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)",
            (new_rowid, normalize_arabic(doc["title"]), normalize_arabic(doc["text"])),
        )
        self.conn.executemany("INSERT INTO doc_tags(tag, doc) VALUES (?, ?)", [(t, new_rowid) for t in tag_ids])

    def _delete_rowid(self, rowid: int) -> None:
        row = self.conn.execute("SELECT tag_ids FROM docs WHERE rowid = ?", (rowid,)).fetchone()
        if row is None:
            return
        tags = array("i")
        tags.frombytes(row[0])
        self.conn.executemany("DELETE FROM doc_tags WHERE tag = ? AND doc = ?", [(t, rowid) for t in tags])
        self.conn.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
        self.conn.execute("DELETE FROM docs WHERE rowid = ?", (rowid,))
        self.conn.execute("DELETE FROM bodies WHERE rowid = ?", (rowid,))

    def _tag_id(self, kind: str, value: str) -> int:
        key = normalize_arabic(value)
        found = self._tag_ids.get((kind, key))
        if found is None:
            self.conn.execute("INSERT OR IGNORE INTO tags(kind, key, value) VALUES (?, ?, ?)", (kind, key, value))
            row = self.conn.execute("SELECT id FROM tags WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            found = self._tag_ids[(kind, key)] = row[0]
        return found


def _as_reported(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """An orphan duplicate document as reported_by entries: itself, then whatever it had gathered."""
    own = {"id": doc["id"], "source": doc["source"], "url": doc["url"], "published_at": doc["published_at"]}
    return [own, *(doc.get("reported_by") or [])]


def _rejection(article: EnrichedArticle, exc: Exception) -> Rejection:
    # ensure_ascii escapes lone surrogates, so even the text that could not be stored is kept whole
    document = json.dumps(article.model_dump(mode="json"), ensure_ascii=True)
    return Rejection(article_id=article.id, reason=f"{type(exc).__name__}: {exc}", document=document)


class EmbeddedSink:
    """The ``Sink`` over ``EmbeddedStore``: SQLite work runs in a thread so the event loop keeps going."""

    def __init__(self, path: Path) -> None:
        self.store = EmbeddedStore(path)
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        await self._run(self.store.open)

    async def write(self, docs: list[EnrichedArticle]) -> list[Rejection]:
        if not docs:
            return []
        return await self._run(self.store.write, docs)

    async def close(self) -> None:
        await self._run(self.store.close)

    async def _run(self, func: Any, *args: Any) -> Any:
        async with self._lock:
            try:
                return await asyncio.to_thread(func, *args)
            except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: the world, not the item
                raise TransientError(f"embedded store {self.store.path}: {exc}", stage="index") from exc
