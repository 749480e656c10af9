"""Embedded store (search side): filters, FTS5 matching and ranking, facet counts, highlights.

Opens the store read-only (``query_only``); WAL lets it read while the pipeline writes. Facets are counted
over every matching document (not a sample) from the packed tag ids, with numpy.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.search import FACETS, FacetValue, SearchQuery, SearchResult, hit_from_document
from pipeline.sinks.analysis import Analyzer, variants
from pipeline.sinks.embedded import connect
from pipeline.sinks.highlight import highlight_title, snippet
from pipeline.sinks.querytext import Clause, ParsedQuery, parse_query
from processors.errors import ConfigError
from processors.normalize import normalize_arabic

TITLE_WEIGHT = 4.0


class StoreNotFound(ConfigError):
    """No embedded store yet at the configured path."""


# a prefix query also finds the word behind the article and the common proclitics
_PROCLITICS = ("", "ال", "و", "وال", "بال", "كال", "فال", "لل", "ب", "ل", "ف", "ك")


def _fts_clause(clause: Clause) -> str:
    """FTS5 text of one clause; words are normalised ``\\w`` runs, so a quoted string is always literal."""
    if clause.kind == "prefix":
        return "(" + " OR ".join(f'"{p}{clause.words[0]}"*' for p in _PROCLITICS) + ")"
    if clause.kind == "phrase":
        return '"' + " ".join(clause.words) + '"'
    return "(" + " OR ".join(f'"{form}"' for form in variants(clause.stems[0])) + ")"


def match_expression(parsed: ParsedQuery) -> tuple[str | None, str | None]:
    """(FTS5 expression of what must match, FTS5 expression of what must not) — either may be None."""
    groups = ["(" + " OR ".join(_fts_clause(c) for c in group) + ")" for group in parsed.must]
    positive = " AND ".join(groups) or None
    negative = " OR ".join(_fts_clause(c) for c in parsed.must_not) or None
    if positive and negative:
        return f"({positive}) NOT ({negative})", None
    return positive, negative


class _Plan:
    """The FROM/WHERE of one search, shared by the page query and the facet/total query."""

    def __init__(self, query: SearchQuery, parsed: ParsedQuery) -> None:
        positive, negative = match_expression(parsed)
        self.ranked = positive is not None
        self.source = "fts JOIN docs d ON d.rowid = fts.rowid" if self.ranked else "docs d"
        self.conditions: list[str] = []
        self.params: list[Any] = []
        if positive:
            self._add("fts MATCH ?", positive)
        if negative:
            self._add("d.rowid NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)", negative)
        if query.since:
            self._add("d.published_ts >= ?", int(query.since.timestamp()))
        if query.until:
            self._add("d.published_ts < ?", int(query.until.timestamp()))
        for facet, values in query.filters().items():
            keys = sorted({normalize_arabic(v) for v in values if v.strip()})
            if keys:
                marks = ",".join("?" * len(keys))
                self._add(
                    "d.rowid IN (SELECT doc FROM doc_tags WHERE tag IN "
                    f"(SELECT id FROM tags WHERE kind = ? AND key IN ({marks})))",
                    facet,
                    *keys,
                )

    def _add(self, condition: str, *params: Any) -> None:
        self.conditions.append(condition)
        self.params.extend(params)

    @property
    def where(self) -> str:
        return " AND ".join(self.conditions) or "1"

    def order(self, sort: str) -> str:
        if self.ranked and sort == "relevance":
            return f"bm25(fts, {TITLE_WEIGHT}, 1.0), d.published_ts DESC"
        return "d.published_ts DESC, d.rowid DESC"


class EmbeddedSearcher:
    """Answers ``SearchQuery`` from the store file; safe to share between threads (one lock)."""

    def __init__(self, path: Path) -> None:
        if not Path(path).exists():
            raise StoreNotFound(f"no search store at {path}: run `akhbar run` first (or set AKHBAR_DATA_DIR)")
        self.conn = connect(Path(path), readonly=True)
        self.analyzer = Analyzer()
        self._lock = threading.Lock()
        self._tag_kind = np.zeros(0, dtype=np.int8)
        self._tag_value: dict[int, str] = {}

    def close(self) -> None:
        self.conn.close()

    def search(self, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        parsed = parse_query(query.text, self.analyzer)
        plan = _Plan(query, parsed)
        with self._lock:
            rows = self.conn.execute(
                f"SELECT d.doc, {'bm25(fts, ' + str(TITLE_WEIGHT) + ', 1.0)' if plan.ranked else 'NULL'} "
                f"FROM {plan.source} WHERE {plan.where} ORDER BY {plan.order(query.sort)} LIMIT ? OFFSET ?",
                [*plan.params, query.limit, query.offset],
            ).fetchall()
            total, facets = self._facets(plan, query.facet_size)
        hits = []
        for doc_json, rank in rows:
            doc = json.loads(doc_json)
            hit = hit_from_document(doc, -rank if rank is not None else None)
            hit.title_highlight = highlight_title(doc.get("title") or "", parsed)
            hit.snippet = snippet(doc.get("text") or "", parsed)
            hits.append(hit)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(backend="embedded", total=total, hits=hits, facets=facets, took_ms=took)

    def _facets(self, plan: _Plan, size: int) -> tuple[int, dict[str, list[FacetValue]]]:
        blobs = self.conn.execute(f"SELECT d.tag_ids FROM {plan.source} WHERE {plan.where}", plan.params)
        chunks = [blob for (blob,) in blobs]
        total = len(chunks)
        if not total or not size:
            return total, {}
        ids = np.frombuffer(b"".join(chunks), dtype=np.int32)
        if ids.size and ids.max() >= self._tag_kind.size:
            self._load_tags()
        counts = np.bincount(ids, minlength=self._tag_kind.size)
        present = np.nonzero(counts)[0]
        kinds = self._tag_kind[present]
        facets = {}
        for kind_index, facet in enumerate(FACETS):
            tag_ids = present[kinds == kind_index]
            # highest count first, then the lower tag id (first seen) for a stable order
            order = np.lexsort((tag_ids, -counts[tag_ids]))[:size]
            facets[facet] = [
                FacetValue(value=self._tag_value[int(tag_ids[i])], count=int(counts[tag_ids[i]])) for i in order
            ]
        return total, facets

    def _load_tags(self) -> None:
        rows = self.conn.execute("SELECT id, kind, value FROM tags").fetchall()
        kinds = np.full(max((r[0] for r in rows), default=0) + 1, -1, dtype=np.int8)
        for tag_id, kind, value in rows:
            kinds[tag_id] = FACETS.index(kind) if kind in FACETS else -1
            self._tag_value[tag_id] = value
        self._tag_kind = kinds
