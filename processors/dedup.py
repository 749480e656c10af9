"""Deduplication stage: exact (article id, normalised-text hash) and near-duplicate (MinHash + LSH) detection.

Decisions (`DedupInfo`): `unique` (cluster_id = its own id, or an earlier article's cluster when the text
overlaps in the lower band); `duplicate` (same `text_hash` under another id; similarity 1.0); `near_duplicate`
(MinHash similarity above the high threshold). `duplicate_of` is always the *first* article of the family
(the root), so reprints of reprints point at the original. The same article id always gets the decision it got
the first time: a re-poll, or a redelivery after a rebalance, re-runs `check` and must not turn an article into
a duplicate of itself.

Similarity: word 3-gram shingles of `normalize_arabic(text)` (titles are ignored: reprints change them),
128-permutation MinHash (`processors.signature`). Two measures from one signature: the estimated Jaccard J,
and the estimated containment C = |A∩B| / min(|A|,|B|), derived from J and the exact shingle counts
(|A∩B| = J(|A|+|B|)/(1+J)). Containment catches lead-only copies (an outlet keeping the first paragraphs),
whose Jaccard falls to 0.2–0.6. Rule: near-duplicate when J ≥ 0.35, or C ≥ 0.6 with J ≥ 0.12; same
cluster (status stays `unique`) when J ≥ 0.1 or C ≥ 0.25.

Thresholds measured on the dev set in tests/fixtures/dedup (112 articles from 12 countries, 178 annotated
pairs; every one of the 6,216 pairs of the set scored with these signatures): the 147 pairs within a reprint
family have J 0.20–1.00 and C ≥ 0.63 (wire copies with a dateline and a dropped sentence J ≥ 0.67; edited
copies J ≥ 0.38; lead-only copies C ≥ 0.77); the 6,069 other pairs have J ≤ 0.18 and C ≤ 0.35, the highest
being independent reports of one event (J 0.10–0.13, C 0.31–0.35) and different events sharing an outlet's
background paragraph (J 0.18, C 0.31). Result: pairwise precision 1.00 and recall 1.00, in arrival order
and in 20 shuffled orders, no distinct stories merged (tests/unit/processors/test_dedup_devset.py asserts
precision ≥ 0.98, recall ≥ 0.95, none merged; test_dedup.py adds 5 % random word replacements: all found).

LSH: our own banding over the store (datasketch's MinHashLSH cannot live in a MutableMapping): 64 bands of 2
rows, so a pair at J = 0.3 becomes a candidate with p = 0.998 and at J = 0.15 with p = 0.77; random pairs
(J ≈ 0.01) collide in one band with p ≈ 0.006, so each check scores at most `max_candidates` articles, those
sharing the most bands first. A bucket keeps its `max_bucket` newest ids, so boilerplate shared by many
articles cannot make lookups grow. The buckets live in memory (`BandIndex`), derived from the signatures in
the store and rebuilt from them by `rebuild_index()` after a table recovery or a rebalance: persisted, they
cost 64 changelog records per article (each holding its whole bucket) and made the Faust table the pipeline's
bottleneck. Memory: about 64 small entries per article in the window, plus its signature (0.5 KB), kept beside
the buckets so that a check scores its candidates without reading and decoding their stored signatures. 42×3
bands would cut the entries by a third at a measured recall of 0.98 (min over 20 shuffled orders of the dev
set); 32×4 falls to 0.90.

Store layout (keys str, values JSON-serialisable; one `store[k] = v` per change, never in-place mutation,
because a Faust Table only records assignments): `a:<id>` → the decision, signature (base64 of its uint32
values: about half the bytes of a JSON list, and under half its cost to serialise; older stores' lists are
still read), shingle count, root and time, and `h` (the text hash) when it is the first article with its text.
One changelog record per article: which article first had a text is derived in memory from the `h` of those
entries (`rebuild_index`), as the LSH buckets are; a separate `h:<text_hash>` entry cost a second changelog
record per article and a third of the table's recovery time (older stores' `h:` entries are still read).
Which outlets carried a story (`reported_by`) is not kept here: the sink folds each duplicate into its
original's document, the one place that sees them all. Times are the article's `fetched_at`
(seconds since the epoch): a candidate further than `window_days` from the article is ignored, and
`expire(now)` removes state older than the window. Only `expire` and `rebuild_index` iterate the store.

Pipeline facts. `news.raw.v1` is keyed by article id and has ONE partition by default (`AKHBAR_RAW_PARTITIONS=1`),
so one worker owns all dedup state at a time (a Faust table whose changelog is written to the partition of the
current event) and two near-duplicates can never be judged at the same moment by two workers: they are judged
one after the other, and the second sees the first. With N raw partitions, articles are routed by id, so two
reprints (different ids) can land on different workers whose tables do not see each other: both would be
`unique` (exact and near-duplicates are then found only within a partition) — keep raw at one partition, or
re-key by a content key before this stage. Extraction and dedup run in that one stage. Enrichment and story
clustering (`processors.cluster`) run on `news.articles.v1` (AKHBAR_TOPIC_PARTITIONS, default 1); with N > 1
story clusters form within a partition. Redelivery after a rebalance re-runs `check` on an id already seen:
the stored decision is returned. Should a recovered table miss an article's `a:` entry (Tansu under-reports a
changelog's end; `pipeline/faust_fixes.py` reads past it, and falls back to the broker's answer if it cannot),
the article is judged again on redelivery (never as a duplicate of itself: its own id is excluded from exact
and LSH matches), and its decision can differ from the first only if an article judged in between is similar.
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from processors.records import Article, DedupInfo
from processors.signature import TextSigner
from processors.story_index import recent_counts

Signed = tuple[np.ndarray, int]  # a text's MinHash signature and its number of distinct shingles
Lookup = tuple[list[bytes], "list[array[int] | None]"]  # a signature's key per band, and its bucket there


@dataclass(frozen=True)
class DedupConfig:
    near_jaccard: float = 0.35  # J at or above: near_duplicate
    near_containment: float = 0.6  # … or C at or above, with J at least containment_min_jaccard
    containment_min_jaccard: float = 0.12
    cluster_jaccard: float = 0.1  # J at or above (or C ≥ cluster_containment): same story cluster
    cluster_containment: float = 0.25
    num_perm: int = 128
    bands: int = 64  # bands × rows must equal num_perm
    rows: int = 2
    shingle_words: int = 3
    window_days: float = 7.0
    max_candidates: int = 32  # articles scored per check (most shared bands first)
    max_bucket: int = 64  # ids kept per LSH bucket (newest)

    def __post_init__(self) -> None:
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands × rows ({self.bands}×{self.rows}) must equal num_perm ({self.num_perm})")


@dataclass(frozen=True)
class _Match:
    id: str
    jaccard: float
    containment: float
    entry: dict[str, Any]


class Deduplicator:
    """Exact and near-duplicate detection over a key-value store (a dict, or a Faust Table)."""

    def __init__(self, store: MutableMapping[str, Any], config: DedupConfig = DedupConfig()) -> None:
        self.store = store
        self.config = config
        self.signer = TextSigner(config.num_perm, config.shingle_words)
        self._window = timedelta(days=config.window_days).total_seconds()
        self.index = BandIndex(config.bands, config.rows, config.max_bucket)
        self.texts: dict[str, tuple[str, float]] = {}  # text_hash → (first article with that text, its time)

    def rebuild_index(self) -> int:
        """Rebuild what is derived from the stored entries, the LSH buckets (from the signatures) and the first
        article of each text (from `h`), after a Faust table recovery or a rebalance, or when opening a restored
        store; returns the number of articles indexed in the buckets."""
        self.index.clear()
        indexed, firsts = [], []
        for key, value in self.store.items():
            if key.startswith("a:"):
                if "sig" in value:
                    indexed.append((key[2:], value))
                if "h" in value:
                    firsts.append((value["t"], value["h"], key[2:]))
            elif key.startswith("h:"):  # an older store's own entry
                firsts.append((value["t"], key[2:], value["id"]))
        self.texts = {}
        for moment, text_hash, article_id in sorted(firsts):
            self.texts.setdefault(text_hash, (article_id, moment))
        for article_id, entry in sorted(indexed, key=lambda item: item[1]["t"]):
            signature = _unpack(entry["sig"])
            self.index.add(article_id, entry["t"], (signature, entry["n"]), self.index.lookup(signature))
        return len(indexed)

    def check(self, article: Article, signed: Signed | None = None) -> DedupInfo:
        """The dedup decision for ``article`` (the first decision again when its id was seen before);
        ``signed`` is ``self.signer.signature(article.text)`` when the caller computed it already (a pool)."""
        seen = self.store.get(f"a:{article.id}")
        if seen is not None:
            return _decision(seen)
        moment = article.fetched_at.timestamp()
        signature, size = signed if signed is not None else self.signer.signature(article.text)
        first = self.texts.get(article.text_hash)
        exact = self._exact_match(article, first, moment)
        buckets = None
        if exact is not None:
            info, root = exact, exact.duplicate_of or article.id
        else:
            buckets = self.index.lookup(signature)  # read once: scored against here, appended to if indexed
            # A text without a single word has an empty signature, equal to every other empty one: never compare.
            match = self._best_match(article.id, buckets, (signature, size), moment) if size else None
            info, root = self._judge(article.id, match)
        if first is None:
            self.texts[article.text_hash] = (article.id, moment)
        self._remember(article, info, root, (signature, size), moment, buckets, first is None)
        return info

    def expire(self, now: datetime) -> int:
        """Drop state older than the window before ``now``; returns how many store keys were removed."""
        cutoff = now.timestamp() - self._window
        self.index.expire(cutoff)
        self.texts = {text: first for text, first in self.texts.items() if first[1] >= cutoff}
        removed = 0
        for key, value in list(self.store.items()):
            if _time_of(value) >= cutoff:
                continue
            del self.store[key]
            removed += 1
        return removed

    def _exact_match(self, article: Article, first: tuple[str, float] | None, moment: float) -> DedupInfo | None:
        """A duplicate of ``first``, the first article stored with the same text hash, if it is another one."""
        if first is None or first[0] == article.id or abs(moment - first[1]) > self._window:
            return None
        entry = self.store.get(f"a:{first[0]}") or {}
        root = entry.get("root", first[0])
        return DedupInfo(
            status="duplicate", duplicate_of=root, similarity=1.0, cluster_id=entry.get("cluster_id", root)
        )

    def _best_match(self, article_id: str, buckets: Lookup, signed: Signed, moment: float) -> _Match | None:
        """The closest candidate, scored from the in-memory signatures; the store confirms the one chosen."""
        serials, ids = self._candidates(article_id, buckets, moment)
        if not ids:
            return None
        signature, size = signed
        index = self.index
        jaccard = np.count_nonzero(index.signatures[serials] == signature, axis=1) / len(signature)
        # Containment C = |A∩B| / min(|A|,|B|), with |A∩B| = J(|A|+|B|)/(1+J); no indexed article is empty.
        sizes = index.sizes[serials]
        smaller = np.minimum(sizes, size)
        containment = np.minimum(1.0, jaccard * (size + sizes) / (1.0 + jaccard) / np.maximum(smaller, 1))
        containment[smaller == 0] = 0.0
        scored = zip((-jaccard).tolist(), (-containment).tolist(), ids, strict=True)
        # Highest Jaccard, then containment; the smaller id breaks ties, so every worker picks the same one.
        for negative_jaccard, negative_containment, candidate_id in sorted(scored):
            entry = self.store.get(f"a:{candidate_id}")
            if entry is not None and abs(moment - entry["t"]) <= self._window:
                return _Match(candidate_id, -negative_jaccard, -negative_containment, entry)
        return None

    def _candidates(self, article_id: str, buckets: Lookup, moment: float) -> tuple[np.ndarray, list[str]]:
        """(serials, ids) of the ``max_candidates`` recent articles sharing most bands (ties by id)."""
        index, limit = self.index, self.config.max_candidates
        serials, counts = index.hits(buckets, moment, self._window, exclude=article_id)
        if len(serials) <= limit:
            return serials, list(map(index.ids.__getitem__, serials.tolist()))
        # The limit-th largest count: every article above it is in, the ties at it compete by id.
        threshold = int(np.partition(counts, len(counts) - limit)[len(counts) - limit])
        above = serials[counts > threshold].tolist()
        tied = sorted(map(index.ids.__getitem__, serials[counts == threshold].tolist()))[: limit - len(above)]
        ids = list(map(index.ids.__getitem__, above)) + tied
        return np.array(above + list(map(index.serials.__getitem__, tied)), dtype=np.int64), ids

    def _judge(self, article_id: str, match: _Match | None) -> tuple[DedupInfo, str]:
        config = self.config
        if match is None:
            return DedupInfo(status="unique", cluster_id=article_id), article_id
        similarity = round(max(match.jaccard, match.containment), 4)
        cluster = match.entry.get("cluster_id") or match.id
        near = match.jaccard >= config.near_jaccard or (
            match.containment >= config.near_containment and match.jaccard >= config.containment_min_jaccard
        )
        if near:
            root = match.entry.get("root", match.id)
            return DedupInfo(
                status="near_duplicate", duplicate_of=root, similarity=similarity, cluster_id=cluster
            ), root
        if match.jaccard >= config.cluster_jaccard or match.containment >= config.cluster_containment:
            return DedupInfo(status="unique", similarity=similarity, cluster_id=cluster), article_id
        return DedupInfo(status="unique", cluster_id=article_id), article_id

    def _remember(  # the check's parts, passed on rather than computed again
        self,
        article: Article,
        info: DedupInfo,
        root: str,
        signed: Signed,
        moment: float,
        buckets: Lookup | None,
        first_of_text: bool,
    ) -> None:
        signature, size = signed
        entry = info.model_dump(mode="json") | {"root": root, "t": moment, "n": size}
        if first_of_text:
            entry["h"] = article.text_hash
        if info.status != "duplicate" and size and buckets is not None:  # an exact copy adds nothing new
            entry["sig"] = base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")
            # check() returns early for a known id, so the id cannot already be in its buckets.
            self.index.add(article.id, moment, signed, buckets)
        self.store[f"a:{article.id}"] = entry


class BandIndex:
    """The LSH buckets, in memory only: one dict per band from the band's value to the serial numbers of its
    newest articles, and each indexed article's id, time, signature and size by serial (numpy arrays, so that a
    check counts and scores its candidates without a Python loop per candidate or a read of the store).

    Derived from the signatures kept in the store, so it is never persisted: written to a Faust table it cost a
    changelog record per band per article (64, each holding its whole bucket), which made the table the
    pipeline's bottleneck. ``Deduplicator.rebuild_index`` rebuilds it after a recovery or a rebalance.
    An expired article's serial is given to the next new one, so the serials stay dense (as many as the window
    holds) without renumbering the buckets. An article is added once (``check`` returns early for a known id).
    """

    def __init__(self, bands: int, rows: int, max_bucket: int) -> None:
        self.bands, self.rows, self.max_bucket = bands, rows, max_bucket
        self.buckets: list[dict[bytes, array[int]]] = [{} for _ in range(bands)]  # serials, the oldest first
        self.serials: dict[str, int] = {}
        self.ids: list[str] = []  # by serial ("" when free)
        self._free: list[int] = []  # serials of expired articles, for new ones
        self._band = np.dtype((np.void, 4 * rows))
        self.times: np.ndarray = np.empty(0)  # by serial, seconds since the epoch (NaN: free)
        self.signatures: np.ndarray = np.empty((0, bands * rows), dtype=np.uint32)  # by serial
        self.sizes: np.ndarray = np.empty(0, dtype=np.int64)  # by serial, distinct shingles
        self._allocate(0)

    def keys(self, signature: np.ndarray) -> list[bytes]:
        """One key per band: the bytes of the band's rows."""
        return np.ascontiguousarray(signature, dtype="<u4").view(self._band).tolist()

    def lookup(self, signature: np.ndarray) -> Lookup:
        """The signature's key per band and that band's bucket for it (None when there is none)."""
        keys = self.keys(signature)
        return keys, list(map(dict.get, self.buckets, keys))

    def hits(self, found: Lookup, moment: float, window: float, exclude: str) -> tuple[np.ndarray, np.ndarray]:
        """(serials, bands shared) of the articles within ``window`` seconds of ``moment`` in the buckets of
        ``found``, ``exclude`` left out."""
        chunks = [bucket for bucket in found[1] if bucket]
        return recent_counts(chunks, self.times, moment, window, self.serials.get(exclude))

    def add(self, article_id: str, moment: float, signed: Signed, found: Lookup) -> None:
        """Index an article in the buckets ``found`` by ``lookup`` of its signature (no ``add`` since)."""
        serial = self.serials.get(article_id)
        if serial is None and self._free:
            serial = self.serials[article_id] = self._free.pop()
            self.ids[serial] = article_id
        elif serial is None:
            serial = len(self.ids)
            if serial >= len(self.times):
                self._allocate(2 * serial)
            self.serials[article_id] = serial
            self.ids.append(article_id)
        self.times[serial] = moment
        self.signatures[serial], self.sizes[serial] = signed
        keys, buckets = found
        present = [bucket for bucket in buckets if bucket is not None]
        for bucket in present:
            bucket.append(serial)
        for full in [bucket for bucket in present if len(bucket) > self.max_bucket]:
            del full[0]
        if len(present) < len(buckets):
            for band, key, old in zip(self.buckets, keys, buckets, strict=True):
                if old is None:
                    band[key] = array("q", (serial,))

    def expire(self, cutoff: float) -> None:
        """Drop the articles older than ``cutoff`` from their own buckets (found from their signatures, so the
        cost follows the articles dropped, not the index) and free their serials for new articles."""
        dead = np.flatnonzero(self.times[: len(self.ids)] < cutoff).tolist()  # a free serial's NaN is not
        for serial in dead:
            for band, key in zip(self.buckets, self.keys(self.signatures[serial]), strict=True):
                bucket = band.get(key)
                while bucket is not None and serial in bucket:  # gone already if pushed out of a full bucket
                    bucket.remove(serial)
                    if not bucket:
                        del band[key]
                        bucket = None
            del self.serials[self.ids[serial]]
            self.ids[serial] = ""
        self.times[dead] = np.nan
        self._free.extend(dead)

    def clear(self) -> None:
        self.serials.clear()
        self.ids.clear()
        self._free.clear()
        for band in self.buckets:
            band.clear()
        self._allocate(0)

    def _allocate(self, count: int) -> None:
        """Arrays with room for ``count`` articles at least, holding the indexed ones."""
        capacity, used = max(1024, count), len(self.ids)
        times, sizes = np.full(capacity, np.nan), np.zeros(capacity, dtype=np.int64)
        signatures = np.zeros((capacity, self.bands * self.rows), dtype=np.uint32)
        times[:used], signatures[:used], sizes[:used] = self.times[:used], self.signatures[:used], self.sizes[:used]
        self.times, self.signatures, self.sizes = times, signatures, sizes

    def __len__(self) -> int:
        return sum(len(band) for band in self.buckets)


def _unpack(signature: str | list[int]) -> np.ndarray:
    """A stored signature: base64 of its little-endian uint32 values (or, in an older store, their JSON list)."""
    if isinstance(signature, str):
        return np.frombuffer(base64.b64decode(signature), dtype="<u4").astype(np.uint32)
    return np.asarray(signature, dtype=np.uint32)


def _decision(entry: dict[str, Any]) -> DedupInfo:
    return DedupInfo(
        status=entry["status"],
        duplicate_of=entry.get("duplicate_of"),
        similarity=entry.get("similarity"),
        cluster_id=entry.get("cluster_id"),
    )


def _time_of(value: Any) -> float:
    if isinstance(value, dict):
        return float(value.get("t", 0.0))
    return 0.0
