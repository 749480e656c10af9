r"""Embedded store (schema): the SQLite file's tables, its connection settings, and migration of older files.

``bodies`` holds the stored document (the same shape Elasticsearch stores); ``docs`` its small per-document
columns; ``fts`` a contentless FTS5 index of the normalised title and body (stemming happens at query time by
expansion, see ``analysis``); ``tags``/``doc_tags`` the facet values that filters match; ``docs.tag_ids`` the
packed tag ids of a document. The FTS5 table keeps no copy of the text (the document is in ``bodies``): that
quarters the file and the bytes each batch writes. Deleting from it needs the exact text it was given, which is
rebuilt from ``bodies`` with ``normalize_arabic``; so the file records a fingerprint of the normaliser, and an
older file (schemas 3 and 4) or one written under a different normaliser gets its FTS index rebuilt from
``bodies`` on open (documents, tags and rowids are kept; a minute per 100,000 documents).

The indexed words are the query side's (``Analyzer.words``: ``\w`` runs of the normalised text, which FTS5
splits at ``_`` as at any ASCII punctuation): FTS5 gets the normalised text with every other non-ASCII character
made a space, and its ``ascii`` tokenizer (every non-ASCII character is part of a word) finds exactly those words.
It tokenizes a fifth faster than ``unicode61`` (schema 4), whose Unicode 6.1 tables also disagreed with Python's
on the letters added since.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

from processors import normalize
from processors.errors import ConfigError
from processors.normalize import normalize_arabic

SCHEMA_VERSION = "5"
REBUILT = ("3", "4")  # older schemas, their FTS index rebuilt on open
TABLES = """
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
"""
FTS = """
CREATE VIRTUAL TABLE fts USING fts5(title, body, content = '', tokenize = 'ascii');
CREATE VIRTUAL TABLE fts_terms USING fts5vocab(fts, 'row');
"""
_REBUILD_CHUNK = 2_000
# Non-ASCII characters outside words (ASCII ones but letters and digits separate words for the ascii tokenizer
# already). The full class costs a Unicode lookup per character, so most texts are settled by cheaper scans:
# the Arabic punctuation news is full of, then a class of plain ranges (all word characters) over the rest.
_NOT_IN_WORDS = re.compile(r"[^\w\x00-\x7f]")
_MAYBE_NOT_IN_WORDS = re.compile(r"[^\x00-\x7f\u0621-\u064a]")
_COMMON_SEPARATORS = ("\u060c", "\u061b", "\u061f")  # ، ؛ ؟


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA mmap_size = 1073741824")  # readers map the file instead of copying pages
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def normaliser_fingerprint() -> str:
    """What the FTS text depends on: the normaliser's source and the Unicode tables NFKC and lower() use."""
    source = Path(normalize.__file__).read_bytes()
    return hashlib.sha256(source + unicodedata.unidata_version.encode()).hexdigest()[:16]


def fts_values(doc: dict[str, Any]) -> tuple[str, str]:
    """The (title, body) an FTS row holds for a stored document."""
    return fts_text(doc["title"]), fts_text(doc["text"])


def fts_text(text: str) -> str:
    """``text`` as the ``ascii`` tokenizer must see it to find the words ``Analyzer.words`` finds in it."""
    key = normalize_arabic(text)
    for separator in _COMMON_SEPARATORS:
        if separator in key:
            key = key.replace(separator, " ")
    return _NOT_IN_WORDS.sub(" ", key) if _MAYBE_NOT_IN_WORDS.search(key) else key


def open_store(path: Path) -> sqlite3.Connection:
    """The writer's connection: schema created, or an older file migrated (see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a commit survives a crash of the process, not of the OS
    conn.execute("PRAGMA cache_size = -65536")  # 64 MB: FTS5 segment merges stay in memory
    conn.execute("PRAGMA wal_autocheckpoint = 4000")  # 16 MB: pages rewritten by merges are copied back once
    conn.execute("BEGIN IMMEDIATE")
    try:
        _create(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise
    return conn


def _create(conn: sqlite3.Connection) -> None:
    for statement in _statements(TABLES):
        conn.execute(statement)
    version = _meta(conn, "schema_version")
    if version is not None and version not in (*REBUILT, SCHEMA_VERSION):
        raise ConfigError(f"search store schema {version}: this akhbar opens 3 to {SCHEMA_VERSION} only")
    fingerprint = normaliser_fingerprint()
    if version != SCHEMA_VERSION or _meta(conn, "normaliser") != fingerprint:
        _rebuild_fts(conn)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('normaliser', ?)", (fingerprint,))


def _rebuild_fts(conn: sqlite3.Connection) -> None:
    """(Re)create the FTS index and fill it from ``bodies`` (a new file: nothing to fill)."""
    conn.execute("DROP TABLE IF EXISTS fts_terms")
    conn.execute("DROP TABLE IF EXISTS fts")
    for statement in _statements(FTS):
        conn.execute(statement)
    last = 0
    while True:
        rows = conn.execute(
            "SELECT rowid, doc FROM bodies WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, _REBUILD_CHUNK)
        ).fetchall()
        if not rows:
            return
        values = [(rowid, *fts_values(json.loads(doc))) for rowid, doc in rows]
        conn.executemany("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", values)
        last = rows[-1][0]


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
