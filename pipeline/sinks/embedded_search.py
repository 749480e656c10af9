"""Embedded store (search side): FTS5 matching and ranking, filters, exact facet counts, highlights.

Opens the store read-only (``query_only``); WAL lets it read while the pipeline writes. One FTS5 pass gives the
matching rowids (and bm25 scores); dates, tag filters, facets and ordering are then numpy operations over an
in-memory snapshot of the small per-document columns (published time, packed tag ids), refreshed when the file
changes: rowids are never reused and a changed document gets a new rowid, so only new rows need reading.
Facets are counted over every matching document, not a sample.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.search import FACETS, FacetValue, SearchQuery, SearchResult, hit_from_document
from pipeline.sinks.analysis import Analyzer, variants
from pipeline.sinks.embedded_ranking import Ranked, Ranker
from pipeline.sinks.embedded_schema import connect
from pipeline.sinks.embedded_snapshot import PerVersion, Snapshot, int_column, ints
from pipeline.sinks.highlight import highlight_title, snippet
from pipeline.sinks.querytext import Clause, ParsedQuery, parse_query
from processors.errors import ConfigError
from processors.normalize import normalize_arabic

RANK_WINDOW = 5_000  # relevance ranks at most this many newest text matches (see embedded_ranking)
KEPT_PASSES = 12  # text index reads kept per snapshot version (a few searches' matches and scores)
VOCABULARY_ENTRIES = 10_000  # query words' vocabulary lookups kept per snapshot version
PREFIX_TERMS = 16  # a prefix with at most this many indexed words is matched as those words (see _prefix_terms)
# a two-letter key heads hundreds of words, the commonest ones among them: listing 17 of them (fts_terms reads
# each one's whole list) only to give up costs more than the prefix merge it would save
_MIN_TERMS_KEY = 3


class StoreNotFound(ConfigError):
    """No embedded store yet at the configured path."""


# a prefix query also finds the word behind the article and the common proclitics
_PROCLITICS = ("", "ال", "و", "وال", "بال", "كال", "فال", "لل", "ب", "ل", "ف", "ك")


Expand = Callable[[str], Sequence[str]]


def prefixes(key: str) -> tuple[str, ...]:
    """The prefixes a prefix query for ``key`` matches: the key behind each proclitic."""
    return tuple(proclitic + key for proclitic in _PROCLITICS)


def _fts_clause(clause: Clause, expand: Expand, heads: Expand, terms: Expand | None = None) -> str:
    """FTS5 text of one clause; words are normalised ``\\w`` runs, so a quoted string is always literal.

    With ``terms``, a prefix clause whose indexed words it lists becomes an OR of those words: it matches the
    same rows, and FTS5 reads their lists directly instead of first merging every list under the prefix (a
    third of a common prefix's cost). bm25 then scores each listed word as a phrase of its own (its own rarity),
    as a query naming those words would be scored; that ranks a prefix's 74,000 matches in 12 ms instead of
    33 ms. A prefix with more words than that stays a prefix and is scored as one phrase.
    """
    if clause.kind == "prefix":
        words = terms(clause.words[0]) if terms is not None else ()
        if words:
            return "(" + " OR ".join(f'"{word}"' for word in words) + ")"
        found = heads(clause.words[0]) or clause.words  # no indexed word starts so: the key (matches nothing)
        return "(" + " OR ".join(f'"{head}"*' for head in found) + ")"
    if clause.kind == "phrase":
        return '"' + " ".join(clause.words) + '"'
    forms = expand(clause.stems[0]) or clause.words  # no indexed form: the word itself (matches nothing)
    return "(" + " OR ".join(f'"{form}"' for form in forms) + ")"


def match_expression(
    parsed: ParsedQuery, expand: Expand = variants, heads: Expand = prefixes, terms: Expand | None = None
) -> tuple[str | None, str | None]:
    """(FTS5 expression of what must match, FTS5 expression of what must not) — either may be None."""
    groups = ["(" + " OR ".join(_fts_clause(c, expand, heads, terms) for c in group) + ")" for group in parsed.must]
    positive = " AND ".join(groups) or None
    negative = " OR ".join(_fts_clause(c, expand, heads, terms) for c in parsed.must_not) or None
    if positive and negative:
        return f"({positive}) NOT ({negative})", None
    return positive, negative


def _newest(rowids: np.ndarray, published: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` newest rows (by date, then rowid), in that order."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.arange(rowids.size)
    if count < rowids.size:  # every row at least as new as the count-th newest (ties kept, sorted below)
        threshold = np.partition(published, rowids.size - count)[rowids.size - count]
        candidates = np.flatnonzero(published >= threshold)
    order = np.lexsort((-rowids[candidates], -published[candidates]))[:count]
    return candidates[order]


class EmbeddedSearcher:
    """Answers ``SearchQuery`` from the store file; safe to share between threads (one lock)."""

    def __init__(self, path: Path) -> None:
        if not Path(path).exists():
            raise StoreNotFound(f"no search store at {path}: run `akhbar run` first (or set AKHBAR_DATA_DIR)")
        self.conn = connect(Path(path), readonly=True)
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'docs'").fetchone():
            # the writer creates the file, then commits its schema: a reader between the two finds no tables
            self.conn.close()
            raise StoreNotFound(f"no search store at {path} yet: the pipeline is creating it, try again")
        self.analyzer = Analyzer()
        self._ranker = Ranker(Path(path))
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._tag_kind = np.zeros(0, dtype=np.int8)
        self._tag_value: dict[int, str] = {}
        self._vocabulary = PerVersion(VOCABULARY_ENTRIES)  # query word → its indexed forms, prefixes, words
        self._live_counts = (-1, np.zeros(0, dtype=np.int64))  # (snapshot version, documents per tag id)
        self._passes = PerVersion(KEPT_PASSES)
        self._has_vocabulary = bool(
            self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'fts_terms'").fetchone()
        )

    def close(self) -> None:
        self._ranker.close()
        self.conn.close()

    def search(self, query: SearchQuery) -> SearchResult:
        started = time.perf_counter()
        with self._lock:
            self.conn.execute("BEGIN")  # one read snapshot for every statement of this search
            try:
                self._snapshot.refresh(self.conn)
                parsed = parse_query(query.text, self.analyzer)
                matching, excluded = match_expression(
                    parsed, self._indexed_forms, self._indexed_prefixes, self._prefix_terms
                )
                ranking = self._ranking(matching) if matching and query.sort == "relevance" else None
                text_rowids = self._rowids_matching(matching) if matching else None
                rowids = self._filter(text_rowids, excluded, query)
                facets = self._facets(rowids, query.facet_size)
                page, scores = self._page(rowids, ranking.result() if ranking else None, query)
                documents = self._documents(page)
            finally:
                self.conn.execute("COMMIT")
        hits = []
        for rowid, score in zip(page.tolist(), scores, strict=True):
            doc = documents[rowid]
            hit = hit_from_document(doc, -score if score is not None else None)
            hit.title_highlight = highlight_title(doc.get("title") or "", parsed)
            hit.snippet = snippet(doc.get("text") or "", parsed)
            hits.append(hit)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(backend="embedded", total=len(rowids), hits=hits, facets=facets, took_ms=took)

    def _rowids_matching(self, expression: str) -> np.ndarray:
        """Ascending live rowids matching an FTS5 expression (read-only: kept for the snapshot version)."""
        return self._passes.get(self._snapshot.version, ("rows", expression), lambda: self._read_rowids(expression))

    def _read_rowids(self, expression: str) -> np.ndarray:
        joined = self.conn.execute("SELECT group_concat(rowid) FROM fts WHERE fts MATCH ?", (expression,)).fetchone()[0]
        rowids = ints(joined)
        if not (rowids[1:] > rowids[:-1]).all():  # FTS5 yields ascending rowids: checking is cheaper than sorting
            rowids = np.sort(rowids)
        rowids = self._snapshot.present(rowids)
        rowids.flags.writeable = False
        return rowids

    def _filter(self, text_rowids: np.ndarray | None, negative: str | None, query: SearchQuery) -> np.ndarray:
        """The matching rowids (ascending): text matches (or every document), minus exclusions, filtered."""
        snapshot = self._snapshot
        rowids = snapshot.live if text_rowids is None else text_rowids
        keep = np.ones(rowids.size, dtype=bool)
        if negative is not None:
            keep &= ~snapshot.member(rowids, self._rowids_matching(negative))
        published = snapshot.published[rowids]
        if query.since:
            keep &= published >= int(query.since.timestamp())
        if query.until:
            keep &= published < int(query.until.timestamp())
        for facet, values in query.filters().items():
            keys = sorted({normalize_arabic(v) for v in values if v.strip()})
            if keys:
                marks = ",".join("?" * len(keys))
                tag_ids = int_column(
                    self.conn, f"SELECT id AS v FROM tags WHERE kind = ? AND key IN ({marks})", (facet, *keys)
                )
                keep &= snapshot.member(rowids, snapshot.tagged(tag_ids))
        return rowids[keep]

    def _ranking(self, expression: str) -> Future[Ranked]:
        """bm25 of the newest ``RANK_WINDOW`` text matches, read in the ranker's thread while this one lists
        every match (see ``embedded_ranking``); below the window size the ranking is exact."""
        key, version = ("bm25", expression, RANK_WINDOW), self._snapshot.version

        def submit() -> Future[Ranked]:
            return self._ranker.submit(expression, self._snapshot.last, RANK_WINDOW)

        ranking = self._passes.get(version, key, submit)
        if ranking.done() and ranking.exception() is not None:  # a failed read is not kept: read again
            self._passes.discard(version, key)
            ranking = self._passes.get(version, key, submit)
        return ranking

    def _page(self, rowids: np.ndarray, ranked: Ranked | None, query: SearchQuery) -> tuple[np.ndarray, list]:
        """The requested page's rowids and scores: ranked ones by score then date, the rest by date then rowid.

        Only the page is ordered (a partition finds the newest), not every match: a common word matches most
        documents.
        """
        end = query.offset + query.limit
        published = self._snapshot.published[rowids]
        if ranked is None:
            order = _newest(rowids, published, end)
            return rowids[order][query.offset :], [None] * len(order[query.offset :])
        scored, values = ranked.lookup(rowids)
        top, top_published = rowids[scored], published[scored]
        order = np.lexsort((-top, -top_published, values))[:end]
        unscored = rowids[~scored]
        rest = _newest(unscored, published[~scored], end - order.size) if order.size < end else order[:0]
        page = np.concatenate((top[order], unscored[rest]))[query.offset :]
        scores = [*values[order].tolist(), *[None] * rest.size][query.offset :]
        return page, scores

    def _indexed_forms(self, word_stem: str) -> Sequence[str]:
        """The forms of ``word_stem`` present in the index (bm25 costs rows × phrases: never OR absent words)."""
        return self._vocabulary.get(self._snapshot.version, word_stem, lambda: self._read_forms(word_stem))

    def _read_forms(self, word_stem: str) -> tuple[str, ...]:
        """Read from the FTS5 vocabulary with one range scan per proclitic, not one probe per candidate form."""
        forms = variants(word_stem)
        if not self._has_vocabulary:
            return forms
        heads = {form[: form.find(word_stem)] for form in forms if word_stem in form}
        indexed: set[str] = set()
        for head in heads:
            low = head + word_stem
            rows = self.conn.execute("SELECT term FROM fts_terms WHERE term >= ? AND term < ?", (low, low + "\uffff"))
            indexed.update(term for (term,) in rows)
        odd = [form for form in forms if word_stem not in form]  # override forms not built on the stem
        if odd:
            marks = ",".join("?" * len(odd))
            indexed.update(t for (t,) in self.conn.execute(f"SELECT term FROM fts_terms WHERE term IN ({marks})", odd))
        return tuple(form for form in forms if form in indexed)

    def _indexed_prefixes(self, key: str) -> Sequence[str]:
        """The prefixes of ``prefixes(key)`` some indexed word starts with (bm25 pays for every phrase it gets)."""
        return self._vocabulary.get(self._snapshot.version, "*" + key, lambda: self._read_prefixes(key))

    def _read_prefixes(self, key: str) -> tuple[str, ...]:
        heads = prefixes(key)
        if not self._has_vocabulary:
            return heads
        sql = "SELECT 1 FROM fts_terms WHERE term >= ? AND term < ? LIMIT 1"
        return tuple(head for head in heads if self.conn.execute(sql, (head, head + "\uffff")).fetchone())

    def _prefix_terms(self, key: str) -> Sequence[str]:
        """Every indexed word a prefix query for ``key`` matches, or () if more than ``PREFIX_TERMS``.

        An OR of many words costs FTS5 more than one prefix merge, so a short, common prefix stays a prefix.
        """
        if len(key) < _MIN_TERMS_KEY or not self._has_vocabulary:
            return ()
        return self._vocabulary.get(self._snapshot.version, "**" + key, lambda: self._read_prefix_terms(key))

    def _read_prefix_terms(self, key: str) -> tuple[str, ...]:
        sql = "SELECT term FROM fts_terms WHERE term >= ? AND term < ? LIMIT ?"
        words: dict[str, None] = {}
        for head in self._indexed_prefixes(key):
            # the highest code point: every word that starts with ``head`` sorts below it (FTS5 compares bytes)
            rows = self.conn.execute(sql, (head, head + "\U0010ffff", PREFIX_TERMS + 1 - len(words)))
            words.update((term, None) for (term,) in rows)
            if len(words) > PREFIX_TERMS:
                return ()
        return tuple(words)

    def _documents(self, rowids: np.ndarray) -> dict[int, dict[str, Any]]:
        if not rowids.size:
            return {}
        marks = ",".join("?" * rowids.size)
        rows = self.conn.execute(f"SELECT rowid, doc FROM bodies WHERE rowid IN ({marks})", [int(r) for r in rowids])
        return {rowid: json.loads(doc) for rowid, doc in rows}

    def _facets(self, rowids: np.ndarray, size: int) -> dict[str, list[FacetValue]]:
        if not rowids.size or not size:
            return {}
        counts = self._tag_counts(rowids)
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
        return facets

    def _tag_counts(self, rowids: np.ndarray) -> np.ndarray:
        """Documents per tag id among ``rowids`` (live, ascending); longer than every id they carry.

        When most documents match, the counts over every live document (kept per snapshot version) minus those
        of the few that do not: a common word matches nearly all of them.
        """
        snapshot = self._snapshot
        if rowids.size * 2 <= snapshot.live.size:
            return self._bincount(snapshot.tag_ids_of(rowids))
        if self._live_counts[0] != snapshot.version:
            self._live_counts = (snapshot.version, self._bincount(snapshot.tag_ids_of(snapshot.live)))
        every = self._live_counts[1]
        rest = snapshot.live[~snapshot.member(snapshot.live, rowids)]
        return every - np.bincount(snapshot.tag_ids_of(rest), minlength=every.size)

    def _bincount(self, ids: np.ndarray) -> np.ndarray:
        if ids.size and ids.max() >= self._tag_kind.size:
            self._load_tags()
        return np.bincount(ids, minlength=self._tag_kind.size)

    def _load_tags(self) -> None:
        rows = self.conn.execute("SELECT id, kind, value FROM tags").fetchall()
        kinds = np.full(max((r[0] for r in rows), default=0) + 1, -1, dtype=np.int8)
        for tag_id, kind, value in rows:
            kinds[tag_id] = FACETS.index(kind) if kind in FACETS else -1
            self._tag_value[tag_id] = value
        self._tag_kind = kinds
