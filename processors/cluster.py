"""Story clustering (enrichment stage): articles about the same event from different outlets share a cluster_id.

Reprints are already tied together by the dedup stage (`duplicate_of`, `cluster_id`). Independent reports of
one event share few word 3-grams (J ≤ 0.13 on the dev set) but share the event's places and actors and many
content words. So, after enrichment:

- candidates are recent articles (|Δ published_at| ≤ `window_hours`) that share a specific place (a city or
  site: GeoNames id or English name; countries are too broad to count) or a PER/ORG/LOC entity, found through
  posting lists `k:<key>` in the store, plus the article the dedup stage linked in its lower band;
- a candidate is confirmed when the two share at least `min_shared_keys` keys and the overlap coefficient of
  their content words (normalised, light prefix/suffix stripping, stop words dropped; |A∩B| / min(|A|,|B|))
  reaches `min_word_overlap`; the dedup stage's lower-band link needs one shared key only;
- the best confirmed candidate's cluster is taken; none → the article's own dedup cluster (its id, or its
  original's cluster for a reprint).

Measured on the dev set (tests/fixtures/dedup, places and actors tagged from a lexicon): independent reports of
the same event have word overlap 0.35–0.60; different events from the same place and day ≤ 0.21. Word sets are
stored exactly (≤ `max_words` CRC-32 hashes, base64 of the sorted array, ~2 KB), not as MinHash: at these low
overlaps a 128-permutation estimate errs by ±0.07, too close to the gap.

Store layout (keys str, JSON values, one assignment per change): `s:<id>` → cluster, time, keys, words; one
changelog record per article. The posting lists (key → newest `max_postings` ids) live in memory
(`StoryIndex`, beside each recent article's cluster, keys and words) and are rebuilt from the `s:` entries by
`rebuild_index()` after a table recovery or a rebalance: persisted, each article rewrote ~20 lists of up to
200 entries, the pipeline's largest cost. With several partitions of `news.articles.v1`, each worker's table
sees its partition only, so clusters form within a partition (see processors.dedup).
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from processors.normalize import normalize_arabic
from processors.records import DedupInfo, EnrichedArticle
from processors.signature import TextSigner
from processors.story_index import Stored, StoryIndex, pack

_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و")
_SUFFIXES = ("ات", "ون", "ين", "ها", "ه")
_STOP_WORD_TEXT = (
    "في من على إلى الى عن أن إن التي الذي الذين مع بعد قبل كان كانت يكون هذا هذه ذلك تلك أو ما لا لم لن قد "
    "كما بين حيث منذ خلال عند حتى أي كل غير بعض ثم إذ إذا وقال قال وقالت قالت أنه أنها وأن وفي اليوم أمس"
)
_STOP_WORDS = frozenset(normalize_arabic(w) for w in _STOP_WORD_TEXT.split(" "))
_SLOT = np.uint32(0xFFFF)  # a content word's slot in _WordTable: its low 16 bits


@dataclass(frozen=True)
class ClusterConfig:
    window_hours: float = 36.0  # reports of one event are published within this of each other
    min_shared_keys: int = 1  # places/actors in common, besides the word overlap
    min_word_overlap: float = 0.3  # |A∩B| / min(|A|,|B|) of content words
    max_words: int = 400  # content words kept per article (the lead holds the facts)
    max_candidates: int = 40  # articles scored per assignment (most shared keys first)
    max_postings: int = 200  # ids kept per place/actor key (newest)
    window_days: float = 7.0  # state kept for expire()


class StoryClusterer:
    """Assign each enriched article to a story cluster, over a key-value store (a dict, or a Faust Table)."""

    def __init__(self, store: MutableMapping[str, Any], config: ClusterConfig = ClusterConfig()) -> None:
        self.store = store
        self.config = config
        self._words = TextSigner(num_perm=8, shingle_words=1)  # only its tokeniser is used here
        self._window = timedelta(hours=config.window_hours).total_seconds()
        self.index = StoryIndex(config.max_postings)
        self._complete = False  # the index holds every stored article (rebuilt, then kept in step)
        self._word_table = _WordTable()

    def rebuild_index(self) -> int:
        """Rebuild the in-memory posting lists from the stored articles (after a Faust table recovery or a
        rebalance, or when opening a restored store); returns the number of articles indexed."""
        self.index.clear()
        entries = [(key[2:], value) for key, value in self.store.items() if key.startswith("s:")]
        for article_id, entry in sorted(entries, key=lambda item: item[1]["t"]):
            self.index.add(article_id, Stored.from_entry(entry))
        self._complete = True
        return len(entries)

    def assign(self, article: EnrichedArticle, words: np.ndarray | None = None) -> str:
        """The cluster_id of ``article`` (an earlier article's when they report the same event); ``words`` is
        ``self.content_words(article.title, article.text)`` when the caller computed it already (a pool)."""
        if words is None:
            words = self.content_words(article.title, article.text)
        return self.assign_facts(story_facts(article, words))

    def assign_facts(self, facts: StoryFacts) -> str:
        """``assign`` from what it reads of the article (computed beforehand, e.g. in the worker's CPU pool)."""
        seen = self._known(facts.id)
        if seen is not None:
            return seen.cluster
        cluster = self._inherited(facts) or self._confirmed(facts) or _own(facts)
        self._remember(facts.id, cluster, facts.keys, facts.words, facts.moment)
        return cluster

    def expire(self, now: datetime) -> int:
        """Drop state older than ``window_days`` before ``now``; returns how many store keys were removed."""
        cutoff = now.timestamp() - timedelta(days=self.config.window_days).total_seconds()
        self.index.expire(cutoff)
        stale = [key for key, value in self.store.items() if key.startswith("s:") and value["t"] < cutoff]
        for key in stale:
            del self.store[key]
        return len(stale)

    def content_words(self, *texts: str) -> np.ndarray:
        """Sorted distinct CRC-32 hashes of the lightly stemmed content words of ``texts`` (first ``max_words``).

        The texts are tokenised one by one (the same words as their concatenation with newlines), so an article's
        text meets the normalisation its dedup check already made."""
        words = itertools.chain.from_iterable(map(self._words.words, texts))
        hashes = np.fromiter(map(_content_hash, words), dtype=np.int64)
        hashes = hashes[hashes >= 0]
        distinct, first_use = np.unique(hashes, return_index=True)
        if len(distinct) > self.config.max_words:  # the words first used earliest
            distinct = np.sort(hashes[np.sort(first_use)[: self.config.max_words]])
        return distinct.astype(np.uint32)

    def _inherited(self, facts: StoryFacts) -> str | None:
        """A reprint belongs to its original's story cluster."""
        dedup = facts.dedup
        if dedup.status == "unique" or not dedup.duplicate_of:
            return None
        original = self._known(dedup.duplicate_of)
        return original.cluster if original else dedup.cluster_id

    def _confirmed(self, facts: StoryFacts) -> str | None:
        keys, moment, window = facts.keys, facts.moment, self._window
        linked = facts.dedup.cluster_id if facts.dedup.cluster_id not in (None, facts.id) else None
        ids = self.index.ranked(keys, moment, window, facts.id, self.config.max_candidates, first=linked)
        articles = self.index.articles
        lead = ids[:1] if linked is not None and ids[:1] == [linked] else []  # possibly not indexed, or too old
        candidates = [(i, stored) for i in lead if (stored := articles.get(i)) and abs(moment - stored.time) <= window]
        # The ranked ids are indexed articles within the window.
        candidates += zip(ids[len(lead) :], map(articles.__getitem__, ids[len(lead) :]), strict=True)
        overlaps = self._word_table.overlaps(facts.words, [stored.words for _, stored in candidates])
        least = self.config.min_word_overlap
        # Below the word overlap only the dedup stage's text link can be confirmed.
        eligible = [n for n, overlap in enumerate(overlaps) if overlap >= least or candidates[n][0] == linked]
        return self._best(candidates, overlaps, eligible, frozenset(keys), linked)

    def _best(
        self, candidates: list[tuple[str, Stored]], overlaps: list[float], eligible: list[int],
        own_keys: frozenset[str], linked: str | None,
    ) -> str | None:  # fmt: skip
        """The cluster of the confirmed candidate with most words in common, then most keys, then the smallest
        id (the same on every worker). Candidates are visited by falling overlap, so the keys are intersected
        only until one is confirmed and the overlap drops below its."""
        best: tuple[float, int, str, str] | None = None
        for n in sorted(eligible, key=overlaps.__getitem__, reverse=True):
            (candidate_id, stored), overlap = candidates[n], overlaps[n]
            if best is not None and -overlap > best[0]:
                break
            shared = len(own_keys & stored.keys)
            text_linked = candidate_id == linked and shared >= 1
            if text_linked or (shared >= self.config.min_shared_keys and overlap >= self.config.min_word_overlap):
                choice = (-overlap, -shared, candidate_id, stored.cluster)
                best = choice if best is None or choice < best else best
        return best[3] if best else None

    def _remember(self, article_id: str, cluster: str, keys: list[str], words: np.ndarray, moment: float) -> None:
        self.store[f"s:{article_id}"] = {"c": cluster, "t": moment, "k": keys, "w": pack(words)}
        self.index.add(article_id, Stored(cluster, moment, frozenset(keys), words))

    def _known(self, article_id: str) -> Stored | None:
        """An article already assigned: from the index, else from the store (the index not rebuilt yet; once it
        is, an article missing from it is missing from the store too, and a table read costs)."""
        stored = self.index.articles.get(article_id)
        if stored is None and not self._complete and (entry := self.store.get(f"s:{article_id}")) is not None:
            stored = Stored.from_entry(entry)
        return stored


@dataclass(frozen=True)
class StoryFacts:
    """What clustering reads of an enriched article: small, so the worker's CPU pool sends it instead of the
    article (whose unpickling cost the worker more than the clustering itself)."""

    id: str
    dedup: DedupInfo  # the dedup stage's decision (status, original, lower-band cluster)
    keys: list[str]  # story_keys
    words: np.ndarray  # content_words of title and text
    moment: float  # published_at, seconds since the epoch


def story_facts(article: EnrichedArticle, words: np.ndarray) -> StoryFacts:
    return StoryFacts(article.id, article.dedup, story_keys(article), words, article.published_at.timestamp())


def story_keys(article: EnrichedArticle) -> list[str]:
    """Specific places (not countries) and named actors of ``article``, as matching keys."""
    keys: set[str] = set()
    for place in article.places:
        if place.kind == "country":
            continue
        if place.geonames_id is not None:
            keys.add(f"place:{place.geonames_id}")
        else:
            keys.add(f"place:{_key_name(place.name_en or place.name)}")
    for entity in article.entities:
        name = _key_name(entity.normalized or entity.text)
        if len(name) > 2:
            keys.add(f"{entity.type.lower()}:{name}")
    return sorted(keys)


_key_name = functools.lru_cache(maxsize=1 << 14)(normalize_arabic)  # names recur from article to article


def _own(facts: StoryFacts) -> str:
    """No confirmed story: the article's own cluster. A lower-band text link from dedup that no shared place or
    actor confirms is dropped, unless enrichment found no keys at all (then the text link is all we know)."""
    if facts.dedup.status != "unique" or not facts.keys:
        return facts.dedup.cluster_id or facts.id
    return facts.id


class _ContentHashes(dict[str, int]):
    """Word → the hash of its light stem; −1 for stop words, digits and words of 1–2 letters. A dict whose
    misses compute: news vocabulary repeats, and a hit is one C-level lookup per word of every article."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __missing__(self, word: str) -> int:
        if len(self) >= self.limit:
            self.clear()  # a bound, not an LRU: refilling costs one stem per word, once
        hashed = -1 if _stop_word(word) else zlib.crc32(_light_stem(word).encode())
        self[word] = hashed
        return hashed


_content_hash = _ContentHashes(1 << 17).__getitem__


def _stop_word(word: str) -> bool:
    """Stop words, digits and words of 1–2 letters carry no story."""
    return len(word) <= 2 or word in _STOP_WORDS or word.isdigit()


def _light_stem(word: str) -> str:
    # Enough to make و+ال+word and word+ات match across outlets; never used for display or entity matching.
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


class _WordTable:
    """Overlap coefficients of one article's content words with those of many others, exact, in one numpy pass.

    A table indexed by a word's low 16 bits holds the article's word of that slot, so each of the others' words
    is judged by one lookup and one comparison (a bit screen then a binary search cost twice as much on the
    bench corpus); the article's words that lose their slot to another of its words (none to a few per
    article) are compared one by one. The table is put back after each call: one per clusterer, never shared
    between threads."""

    def __init__(self) -> None:
        self._empty = (np.arange(1 << 16, dtype=np.uint32) + 1) & _SLOT  # never a word of its own slot
        self._table = self._empty.copy()

    def overlaps(self, words: np.ndarray, others: list[np.ndarray]) -> list[float]:
        """|A∩B| / min(|A|,|B|) of ``words`` with each of ``others`` (all sorted and distinct, uint32)."""
        sizes = np.fromiter(map(len, others), dtype=np.int64, count=len(others))
        if not len(words) or not sizes.sum():
            return [0.0] * len(others)
        joined = np.concatenate(others)
        running = np.zeros(len(joined) + 1, dtype=np.int64)
        np.cumsum(self._found(words, joined), out=running[1:])
        ends = np.cumsum(sizes)
        shared = running[ends] - running[ends - sizes]
        smaller = np.minimum(sizes, len(words))
        overlaps: list[float] = np.where(smaller > 0, shared / np.maximum(smaller, 1), 0.0).tolist()
        return overlaps

    def _found(self, words: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` are among ``words``."""
        table, slots = self._table, words & _SLOT
        table[slots] = words
        try:
            evicted = words[table[slots] != words]  # a later word took the slot
            found: np.ndarray = table.take(values & _SLOT) == values
        finally:
            table[slots] = self._empty[slots]
        for word in evicted.tolist():
            found |= values == word
        return found
