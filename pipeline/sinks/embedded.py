"""Embedded store (index side): SQLite FTS5 in the data directory, the default store without Elasticsearch.

One file, WAL journal (readers search while the pipeline writes), one writer; the tables are described in
``embedded_schema``. A batch is one transaction. Articles that touch nothing already stored (new ids, no
duplicate folding, no orphans waiting for them: nearly all of them) are inserted together, a few statements per
batch; the others go one by one through the read-merge-write path that keeps ``reported_by`` and idempotence.
The items themselves (document, JSON, hash, FTS text) are built in ``embedded_items``; the ``Sink`` over this
store is ``embedded_sink``.
"""

from __future__ import annotations

import json
import sqlite3
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from pipeline.sinks.base import Rejection
from pipeline.sinks.documents import (
    content_hash,
    is_duplicate,
    merge_reported,
    reported_entry,
    with_reported,
)
from pipeline.sinks.embedded_items import (
    ITEM_ERRORS,
    Item,
    as_reported,
    built,
    document_tags,
    duplicate_of,
    rejection,
    timestamp,
)
from pipeline.sinks.embedded_schema import fts_values, open_store
from processors.normalize import normalize_arabic
from processors.records import EnrichedArticle

# the JSON goes in as the UTF-8 bytes pydantic wrote, stored as TEXT (the same value): decoding it to a str
# only for sqlite3 to encode it back was a twentieth of indexing an article
_INSERT_BODY = "INSERT INTO bodies(rowid, doc) VALUES (?, CAST(? AS TEXT))"


class EmbeddedStore:
    """The synchronous store: one writer connection, batches in one transaction, savepoint per article."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._tag_ids: dict[tuple[str, str], int] = {}  # (kind, display value) -> id

    def open(self) -> None:
        self._conn = open_store(self.path)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("EmbeddedStore.open() was not called")
        return self._conn

    def write(self, articles: list[EnrichedArticle]) -> list[Rejection]:
        """Index a batch in one transaction (originals first, so a duplicate finds an original of its batch).

        Items are built before the transaction; it runs without per-item savepoints because releasing a
        savepoint makes FTS5 flush a segment per article (4x slower). If an item fails inside, the batch is
        redone with a savepoint per item, so only that item is rejected. Returns after COMMIT.

        A writer thread inserting one chunk while this one builds the next was measured and dropped: sqlite3
        takes the GIL back after every row of an ``executemany``, and waiting for it from the building thread
        made indexing 10-15 % slower than doing the two in turn.
        """
        rejections: list[Rejection] = []
        items = built(sorted(articles, key=is_duplicate), rejections)
        try:
            self._transaction(items)
        except ITEM_ERRORS:
            rejections += self._one_by_one(items)
        return rejections

    def _transaction(self, items: list[Item]) -> None:
        """Articles that touch nothing stored nor each other go in together; the others after them, one by one."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            fresh = self._fresh_ids(items)
            self._insert_fresh([item for item in items if item.article.id in fresh])
            for item in items:
                if item.article.id not in fresh:
                    self._write_one(item)
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _one_by_one(self, items: list[Item]) -> list[Rejection]:
        """The batch again in one transaction, a savepoint per item: an item that fails is rejected alone."""
        rejections = []
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for item in items:
                conn.execute("SAVEPOINT item")
                try:
                    self._write_one(item)
                except ITEM_ERRORS as exc:
                    conn.execute("ROLLBACK TO item")
                    self._tag_ids.clear()
                    rejections.append(rejection(item.article, exc))
                conn.execute("RELEASE item")
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return rejections

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self._tag_ids.clear()  # ids inserted by the rolled-back transaction no longer exist

    def _fresh_ids(self, items: list[Item]) -> set[str]:
        """Ids of the items that touch nothing stored nor any other item of the batch (order-free)."""
        ids = [item.article.id for item in items]
        known = {
            key
            for (key,) in self.conn.execute(
                "SELECT id FROM docs WHERE id IN (SELECT value FROM json_each(?1))"
                " UNION SELECT duplicate_of FROM docs WHERE duplicate_of IN (SELECT value FROM json_each(?1))",
                (json.dumps(ids),),
            )
        }
        mentions = Counter(ids) + Counter(duplicate_of(item.document) for item in items)
        return {
            item.article.id
            for item in items
            if not is_duplicate(item.article) and item.article.id not in known and mentions[item.article.id] == 1
        }

    def _insert_fresh(self, items: list[Item]) -> None:
        """Insert new documents together: a few statements for the batch, not a few per document."""
        if not items:
            return
        first = self.conn.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'docs'), 0),"
            " coalesce((SELECT max(rowid) FROM docs), 0)) + 1"
        ).fetchone()[0]
        rows, tags = [], []
        for rowid, item in enumerate(items, start=first):
            tag_ids = self._tag_ids_of(item.document)
            rows.append(self._docs_row(rowid, item.document, item.digest, tag_ids))
            tags += [(tag, rowid) for tag in tag_ids]
        rowids = range(first, first + len(items))
        self.conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)
        self.conn.executemany(_INSERT_BODY, zip(rowids, (i.body for i in items), strict=True))
        self.conn.executemany(
            "INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)",
            [(rowid, *item.fts) for rowid, item in zip(rowids, items, strict=True)],
        )
        self.conn.executemany("INSERT INTO doc_tags(tag, doc) VALUES (?, ?)", tags)

    def _write_one(self, item: Item) -> None:
        article = item.article
        if is_duplicate(article):
            original = self._load(article.dedup.duplicate_of or "")
            if original is not None:
                earlier = self._load(article.id)  # this duplicate, indexed alone before its original came
                gathered = earlier[1].get("reported_by") or [] if earlier else []
                self._add_reported(original, [reported_entry(article), *gathered])
                if earlier is not None:
                    self._delete_rowid(earlier[0])
                return
        self._index(item)

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

    def _index(self, item: Item) -> None:
        article, doc = item.article, item.document
        existing = self.conn.execute(
            "SELECT d.rowid, b.doc, d.content_hash FROM docs d JOIN bodies b ON b.rowid = d.rowid WHERE d.id = ?",
            (article.id,),
        ).fetchone()
        stored_reported = json.loads(existing[1]).get("reported_by", []) if existing else []
        orphans = self._orphans(article.id)
        orphan_entries = [entry for _, orphan in orphans for entry in as_reported(orphan)]
        merged = merge_reported(stored_reported, doc["reported_by"] + orphan_entries, article.id)
        doc = with_reported(doc, merged)
        digest = content_hash(doc)
        if existing and existing[2] == digest:
            if merged != stored_reported:
                self._add_reported((existing[0], json.loads(existing[1])), merged)
        else:
            self._upsert(Item(article, doc, to_json(doc), item.fts), digest, existing[0] if existing else None)
        for orphan_rowid, _ in orphans:
            self._delete_rowid(orphan_rowid)

    def _orphans(self, article_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Duplicates indexed as their own documents because their original was not here yet."""
        rows = self.conn.execute(
            "SELECT d.rowid, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid WHERE d.duplicate_of = ?",
            (article_id,),
        )
        return [(rowid, json.loads(doc)) for rowid, doc in rows.fetchall()]

    def _upsert(self, item: Item, content_hash: str, rowid: int | None) -> None:
        if rowid is not None:
            self._delete_rowid(rowid)
        tag_ids = self._tag_ids_of(item.document)
        cursor = self.conn.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", self._docs_row(None, item.document, content_hash, tag_ids)
        )
        new_rowid = cursor.lastrowid
        self.conn.execute(_INSERT_BODY, (new_rowid, item.body))
        self.conn.execute("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", (new_rowid, *item.fts))
        self.conn.executemany("INSERT INTO doc_tags(tag, doc) VALUES (?, ?)", [(t, new_rowid) for t in tag_ids])

    @staticmethod
    def _docs_row(rowid: int | None, doc: dict[str, Any], digest: str, tag_ids: list[int]) -> tuple[Any, ...]:
        packed = array("i", tag_ids).tobytes()
        return (rowid, doc["id"], timestamp(doc["published_at"]), duplicate_of(doc), digest, packed)

    def _delete_rowid(self, rowid: int) -> None:
        row = self.conn.execute(
            "SELECT d.tag_ids, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid WHERE d.rowid = ?", (rowid,)
        ).fetchone()
        if row is None:
            return
        tags = array("i")
        tags.frombytes(row[0])
        self.conn.executemany("DELETE FROM doc_tags WHERE tag = ? AND doc = ?", [(t, rowid) for t in tags])
        # a contentless FTS5 row is deleted by giving back the exact text it was indexed with
        self.conn.execute(
            "INSERT INTO fts(fts, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            (rowid, *fts_values(json.loads(row[1]))),
        )
        self.conn.execute("DELETE FROM docs WHERE rowid = ?", (rowid,))
        self.conn.execute("DELETE FROM bodies WHERE rowid = ?", (rowid,))

    def _tag_ids_of(self, doc: dict[str, Any]) -> list[int]:
        return sorted({self._tag_id(kind, value) for kind, value in document_tags(doc)})

    def _tag_id(self, kind: str, value: str) -> int:
        found = self._tag_ids.get((kind, value))
        if found is None:
            key = normalize_arabic(value)
            self.conn.execute("INSERT OR IGNORE INTO tags(kind, key, value) VALUES (?, ?, ?)", (kind, key, value))
            row = self.conn.execute("SELECT id FROM tags WHERE kind = ? AND key = ?", (kind, key)).fetchone()
            found = self._tag_ids[(kind, value)] = row[0]
        return found
