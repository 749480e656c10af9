"""Benchmark: embedded search store — indexing throughput (single writer) and query latency on ≥ 100k documents.

The corpus is synthetic but shaped like the feed: Arabic words drawn with a Zipf-like skew from real news
text (so common words match tens of thousands of documents), 20 sources, 60 places, entities, two years of
dates. Query latency covers the whole search (matching, ranking, total, facets and highlights).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.search import SearchQuery
from pipeline.sinks.embedded import EmbeddedStore
from pipeline.sinks.embedded_search import EmbeddedSearcher
from processors.records import DedupInfo, EnrichedArticle, Entity, Event, Place

SEED_TEXT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "es" / "seed-article.txt"
BATCH = 200
PLACES = [("دير الزور", "SY"), ("غزة", "PS"), ("بيروت", "LB"), ("دمشق", "SY"), ("بغداد", "IQ"), ("صنعاء", "YE")]
EVENTS = ["airstrike", "protest", "election", "ceasefire", "explosion", "arrest", "flood", "summit"]
QUERIES = [
    {"text": "الأمريكية"},
    {"text": "القيادة المركزية"},
    {"text": '"القوات الأمريكية"'},
    {"text": "استهد*"},
    {"text": "سوريا -إيران"},
    {"text": "الحسكة OR الشدادي"},
    {"text": "الضربات", "sort": "date"},
    {"text": "هجمات", "sources": ["source-3"]},
    {"text": "التحالف", "places": ["غزة"]},
    {"text": "الجماعات", "since": "2025-06-01"},
    {"text": "طائرة مسيرة مجهولة"},
    {"text": "كلمة_غير_موجودة"},
    {"places": ["بيروت"]},
    {"event_types": ["ceasefire"], "sort": "date"},
    {},
]


def _vocabulary(rng: random.Random, size: int = 40_000) -> list[str]:
    """Words by rank: the seed article's words spread over the first ~5,000 ranks (most frequent first),
    the rest pseudo-words, so a content word matches 1–30 % of documents, as in a real news index."""
    words = SEED_TEXT.read_text("utf-8").split()
    real = sorted(set(words), key=lambda w: (-words.count(w), words.index(w)))
    letters = "ابتثجحخدذرسشصضطظعغفقكلمنهوي"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 7))) for _ in range(size)]
    for i, word in enumerate(real):
        vocab.insert(int(2 * i**1.4), word)
    return vocab


def _sentence(rng: random.Random, vocab: list[str], size: int) -> str:
    # Zipf: the word of rank r is drawn with probability ∝ 1/r
    top = len(vocab)
    return " ".join(vocab[int(top ** rng.random()) - 1] for _ in range(size))


def make_corpus(count: int, seed: int = 7) -> list[EnrichedArticle]:
    rng = random.Random(seed)
    vocab = _vocabulary(random.Random(1))
    persons = [f"شخص {i}" for i in range(300)]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    articles = []
    for i in range(count):
        name, country = rng.choice(PLACES)
        published = start + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        articles.append(
            EnrichedArticle(
                id=f"{i:064x}",
                url=f"https://news{i % 20}.example/a/{i}",
                source=f"source-{i % 20}",
                title=_sentence(rng, vocab, rng.randint(6, 12)),
                text=_sentence(rng, vocab, rng.randint(150, 400)),
                language="ar",
                published_at=published,
                published_at_method="feed",
                fetched_at=published,
                extraction_method="feed",
                text_hash=f"{i:064x}",
                entities=[Entity(text=rng.choice(persons), type="PER", start=0, end=1)],
                places=[Place(name=name, country_code=country, lat=33.0, lon=36.0)],
                events=[Event(type=rng.choice(EVENTS), trigger="x", start=0, end=1)],
                dedup=DedupInfo(),
            )
        )
    return articles


def _index(store: EmbeddedStore, count: int) -> float:
    """Seconds spent in ``store.write`` for ``count`` documents (corpus generation not timed)."""
    spent = 0.0
    for offset in range(0, count, 10_000):
        corpus = make_corpus(min(10_000, count - offset), seed=offset)
        for doc_number, article in enumerate(corpus, start=offset):
            article.id = f"{doc_number:064x}"
        for first in range(0, len(corpus), BATCH):
            started = time.perf_counter()
            store.write(corpus[first : first + BATCH])
            spent += time.perf_counter() - started
    return spent


def _latencies(path: Path, repeats: int) -> list[float]:
    searcher = EmbeddedSearcher(path)
    timings = []
    try:
        for _ in range(repeats):
            for spec in QUERIES:
                query = SearchQuery(**spec)
                started = time.perf_counter()
                searcher.search(query)
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        searcher.close()
    return timings


def run(quick: bool = False) -> list[dict]:
    count = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        store = EmbeddedStore(path)
        store.open()
        seconds = _index(store, count)
        store.close()
        timings = _latencies(path, repeats=3 if quick else 7)
    ordered = sorted(timings)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return [
        {"bench": "store", "metric": f"index docs/s ({count:,} docs)", "value": count / seconds,
         "unit": "docs/s", "target": ">= 2000"},
        {"bench": "store", "metric": f"query median ({count:,} docs)", "value": statistics.median(timings),
         "unit": "ms", "target": ""},
        {"bench": "store", "metric": f"query p95 ({count:,} docs)", "value": p95, "unit": "ms",
         "target": "<= 50"},
    ]  # fmt: skip
