"""Benchmark: enrichment time per ~3 KB Arabic article on one core (target ≤ 3 ms median), and build time.

The per-article figure is CPU time of the thread (``time.thread_time``): on a shared machine wall time also
counts the time other processes hold the core. Wall time is reported beside it.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.evaluate import load_articles, to_article
from processors.enrich import Enricher
from processors.records import Article

TARGET_BYTES = 3000


def corpus(count: int) -> list[Article]:
    """``count`` articles of about 3 KB (UTF-8 characters, not bytes) made by joining the annotated texts."""
    items = load_articles()
    articles = []
    for index in range(count):
        parts, size, cursor = [], 0, index
        while size < TARGET_BYTES:
            text = items[cursor % len(items)]["text"]
            parts.append(text)
            size += len(text)
            cursor += 1
        base = to_article(items[index % len(items)])
        articles.append(base.model_copy(update={"id": f"bench-{index}", "text": "\n".join(parts)[:TARGET_BYTES]}))
    return articles


def run(quick: bool = False) -> list[dict]:
    started = time.perf_counter()
    enricher = Enricher()
    build_s = time.perf_counter() - started
    articles = corpus(20 if quick else 60)
    for article in articles[:10]:
        enricher.enrich(article)  # warm caches
    cpu_medians, wall_medians = [], []
    for _ in range(3 if quick else 7):
        cpu, wall = [], []
        for article in articles:
            begin_cpu, begin_wall = time.thread_time(), time.perf_counter()
            enricher.enrich(article)
            cpu.append((time.thread_time() - begin_cpu) * 1000)
            wall.append((time.perf_counter() - begin_wall) * 1000)
        cpu_medians.append(statistics.median(cpu))
        wall_medians.append(statistics.median(wall))
    per_article = statistics.median(cpu_medians)
    chars = statistics.mean(len(a.text) + len(a.title) for a in articles)
    return [
        {
            "bench": "enrich",
            "metric": "median per article (CPU)",
            "value": per_article,
            "unit": "ms",
            "target": "≤ 3 ms per ~3 KB article",
        },
        {
            "bench": "enrich",
            "metric": "median per article (wall)",
            "value": statistics.median(wall_medians),
            "unit": "ms",
            "target": "",
        },
        {"bench": "enrich", "metric": "article size", "value": float(chars), "unit": "chars", "target": "~3000"},
        {"bench": "enrich", "metric": "throughput", "value": 1000 / per_article, "unit": "articles/s", "target": ""},
        {"bench": "enrich", "metric": "Enricher() build", "value": build_s, "unit": "s", "target": "once per process"},
    ]
