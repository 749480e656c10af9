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

Store layout (keys str, JSON values, one assignment per change): `s:<id>` → cluster, time, keys, words;
`k:<key>` → [[id, time], …] (newest `max_postings`). With several partitions of `news.articles.v1`, each
worker's table sees its partition only, so clusters form within a partition (see processors.dedup).
"""

from __future__ import annotations

import base64
import zlib
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from processors.normalize import normalize_arabic
from processors.records import EnrichedArticle
from processors.signature import TextSigner

_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و")
_SUFFIXES = ("ات", "ون", "ين", "ها", "ه")
_STOP_WORD_TEXT = (
    "في من على إلى الى عن أن إن التي الذي الذين مع بعد قبل كان كانت يكون هذا هذه ذلك تلك أو ما لا لم لن قد "
    "كما بين حيث منذ خلال عند حتى أي كل غير بعض ثم إذ إذا وقال قال وقالت قالت أنه أنها وأن وفي اليوم أمس"
)
_STOP_WORDS = frozenset(normalize_arabic(w) for w in _STOP_WORD_TEXT.split(" "))


@dataclass(frozen=True)
class ClusterConfig:
    window_hours: float = 36.0  # reports of one event are published within this of each other
    min_shared_keys: int = 1  # places/actors in common, besides the word overlap
    min_word_overlap: float = 0.3  # |A∩B| / min(|A|,|B|) of content words
    max_words: int = 400  # content words kept per article (the lead holds the facts)
    max_candidates: int = 40  # articles scored per assignment (most shared keys first)
    max_postings: int = 200  # ids kept per place/actor key (newest)
    window_days: float = 7.0  # state kept for expire()


@dataclass(frozen=True)
class _Candidate:
    id: str
    cluster: str
    shared: int
    overlap: float


class StoryClusterer:
    """Assign each enriched article to a story cluster, over a key-value store (a dict, or a Faust Table)."""

    def __init__(self, store: MutableMapping[str, Any], config: ClusterConfig = ClusterConfig()) -> None:
        self.store = store
        self.config = config
        self._words = TextSigner(num_perm=8, shingle_words=1)  # only its tokeniser is used here
        self._window = timedelta(hours=config.window_hours).total_seconds()

    def assign(self, article: EnrichedArticle) -> str:
        """The cluster_id of ``article`` (an earlier article's when they report the same event)."""
        seen = self.store.get(f"s:{article.id}")
        if seen is not None:
            return str(seen["c"])
        keys = story_keys(article)
        words = self.content_words(f"{article.title}\n{article.text}")
        moment = article.published_at.timestamp()
        cluster = self._inherited(article) or self._confirmed(article, keys, words, moment) or _own(article, keys)
        self._remember(article.id, cluster, keys, words, moment)
        return cluster

    def expire(self, now: datetime) -> int:
        """Drop state older than ``window_days`` before ``now``; returns how many store keys were removed."""
        cutoff = now.timestamp() - timedelta(days=self.config.window_days).total_seconds()
        removed = 0
        for key, value in list(self.store.items()):
            if key.startswith("k:"):
                kept = [item for item in value if item[1] >= cutoff]
                if kept:
                    if len(kept) != len(value):
                        self.store[key] = kept
                    continue
            elif not key.startswith("s:") or value["t"] >= cutoff:
                continue
            del self.store[key]
            removed += 1
        return removed

    def content_words(self, text: str) -> np.ndarray:
        """Sorted distinct CRC-32 hashes of the lightly stemmed content words (first ``max_words``)."""
        stems: dict[str, None] = {}
        for word in self._words.words(text):
            if len(word) > 2 and word not in _STOP_WORDS and not word.isdigit():
                stems.setdefault(_light_stem(word))
                if len(stems) >= self.config.max_words:
                    break
        return np.unique(np.fromiter((zlib.crc32(s.encode()) for s in stems), dtype=np.uint32, count=len(stems)))

    def _inherited(self, article: EnrichedArticle) -> str | None:
        """A reprint belongs to its original's story cluster."""
        if article.dedup.status == "unique" or not article.dedup.duplicate_of:
            return None
        original = self.store.get(f"s:{article.dedup.duplicate_of}")
        return str(original["c"]) if original else article.dedup.cluster_id

    def _confirmed(self, article: EnrichedArticle, keys: list[str], words: np.ndarray, moment: float) -> str | None:
        linked = article.dedup.cluster_id if article.dedup.cluster_id not in (None, article.id) else None
        confirmed: list[_Candidate] = []
        for candidate_id in self._candidates(article.id, keys, moment, linked):
            entry = self.store.get(f"s:{candidate_id}")
            if entry is None or abs(moment - entry["t"]) > self._window:
                continue
            shared = len(set(keys) & set(entry["k"]))
            overlap = _overlap(words, _unpack(entry["w"]))
            text_linked = candidate_id == linked and shared >= 1
            if text_linked or (shared >= self.config.min_shared_keys and overlap >= self.config.min_word_overlap):
                confirmed.append(_Candidate(candidate_id, str(entry["c"]), shared, overlap))
        # Most words in common, then most keys; the smaller id breaks ties (the same choice on every worker).
        best = min(confirmed, key=lambda c: (-c.overlap, -c.shared, c.id), default=None)
        return best.cluster if best else None

    def _candidates(self, article_id: str, keys: list[str], moment: float, linked: str | None) -> list[str]:
        hits: Counter[str] = Counter()
        for key in keys:
            for candidate_id, when in self.store.get(f"k:{key}", ()):
                if candidate_id != article_id and abs(moment - when) <= self._window:
                    hits[candidate_id] += 1
        ranked = [c for c, _ in sorted(hits.items(), key=lambda item: (-item[1], item[0]))]
        if linked and linked not in ranked:
            ranked.insert(0, linked)
        return ranked[: self.config.max_candidates]

    def _remember(self, article_id: str, cluster: str, keys: list[str], words: np.ndarray, moment: float) -> None:
        self.store[f"s:{article_id}"] = {"c": cluster, "t": moment, "k": keys, "w": _pack(words)}
        for key in keys:
            postings = [item for item in self.store.get(f"k:{key}", ()) if item[0] != article_id]
            postings.append([article_id, moment])
            self.store[f"k:{key}"] = postings[-self.config.max_postings :]


def story_keys(article: EnrichedArticle) -> list[str]:
    """Specific places (not countries) and named actors of ``article``, as matching keys."""
    keys: set[str] = set()
    for place in article.places:
        if place.kind == "country":
            continue
        if place.geonames_id is not None:
            keys.add(f"place:{place.geonames_id}")
        else:
            keys.add(f"place:{normalize_arabic(place.name_en or place.name)}")
    for entity in article.entities:
        name = normalize_arabic(entity.normalized or entity.text)
        if len(name) > 2:
            keys.add(f"{entity.type.lower()}:{name}")
    return sorted(keys)


def _own(article: EnrichedArticle, keys: list[str]) -> str:
    """No confirmed story: the article's own cluster. A lower-band text link from dedup that no shared place or
    actor confirms is dropped, unless enrichment found no keys at all (then the text link is all we know)."""
    if article.dedup.status != "unique" or not keys:
        return article.dedup.cluster_id or article.id
    return article.id


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


def _overlap(left: np.ndarray, right: np.ndarray) -> float:
    smaller = min(len(left), len(right))
    return len(np.intersect1d(left, right, assume_unique=True)) / smaller if smaller else 0.0


def _pack(words: np.ndarray) -> str:
    return base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")


def _unpack(packed: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed), dtype="<u4")
