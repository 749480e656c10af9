"""Benchmark corpus: realistic ~3 KB Arabic articles, distinct from each other, built from the repo's fixtures.

Sentences of the annotated fixture articles are recombined (seeded), so every article is distinct (no
accidental duplicates) yet reads like the news the pipeline is for.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from processors.records import RawArticle
from processors.urls import article_id

ROOT = Path(__file__).parents[1]
SOURCES = [ROOT / "tests/fixtures/dedup/articles.jsonl", ROOT / "tests/fixtures/e2e"]


def sentences() -> list[str]:
    pool: list[str] = []
    for source in SOURCES:
        texts = []
        if source.is_file():
            texts = [
                json.loads(line).get("text", "") for line in source.read_text(encoding="utf-8").splitlines() if line
            ]
        elif source.is_dir():
            texts = [p.read_text(encoding="utf-8") for p in sorted(source.glob("*.txt"))]
        for text in texts:
            pool.extend(s.strip() for s in re.split(r"(?<=[.!؟])\s+|\n+", text) if len(s.strip()) > 40)
    return sorted(set(pool))


def build(count: int, target_bytes: int = 3000, seed: int = 7) -> list[RawArticle]:
    """``count`` raw articles of about ``target_bytes`` UTF-8 bytes of text each."""
    rng = random.Random(seed)
    pool = sentences()
    now = datetime.now(UTC)
    articles = []
    for i in range(count):
        chosen: list[str] = []
        while len(" ".join(chosen).encode()) < target_bytes:
            chosen.append(rng.choice(pool))
        text = "\n".join(chosen)
        url = f"https://bench.example/{seed}/{i}"
        articles.append(RawArticle(
            id=article_id(url), url=url, source=f"bench{i % 20}",
            source_country="SY", title=chosen[0][:90], text=text, published_at=now - timedelta(minutes=i % 600),
        ))  # fmt: skip
    return articles
