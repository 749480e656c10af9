"""Search golden file: run many searches on a store and print every observable of their results (ids, order,
scores to the bit, totals, facets, highlights) as JSON lines, to diff one version of the searcher against another.

    PYTHONPATH=<checkout> .venv/bin/python -m benchmarks.search_golden STORE.sqlite3 > <version>.jsonl

(run it from each checkout on the same store file, then ``diff`` the two outputs).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.bench_store import QUERIES
from pipeline.search import SearchQuery, SearchResult
from pipeline.sinks.embedded_search import EmbeddedSearcher

TEXTS = [
    "خبر",
    "قديم",
    "جديد",
    "غارات",
    "غزة",
    "غزه",
    "بغزة",
    "الفلسطينيون",
    "مستشفى",
    '"وقف إطلاق النار"',
    '"إطلاق وقف"',
    "مستش*",
    "غزة -مستشفيات",
    "لبنان OR الوقود",
    "قَصْفٌ",
    "٥ OR خمسة",
    "مستشفيات",
    "معدل",
    "ال*",
    "الا*",
    "مس*",
    "ست*",
    "استهد*",
    "والاستهد*",
    "استهد* الأمريكية",
    "استهد* OR الحسكة",
    "-استهد*",
    "الأمريكية -استهد*",
    "سوريا -إيران -الحسكة",
    '"القوات الأمريكية" OR استهد*',
    "القوات",
    "ق*",
    "قو*",
    "الضربات الجوية",
    '"الضربات الجوية"',
    "هجمات OR التحالف OR الجماعات",
    "-الأمريكية",
    "طائرة*",
    "xyz*",
    "امريكي*",
    "الامريكي*",
    "حسك*",
    "ال",
    "و",
    "في",
    "من",
    "ab",
    "-",
    "*",
    '""',
    "OR",
    "الأمريكية OR",
]
EXTRA = [
    {"sort": "date"},
    {"text": "الأمريكية", "offset": 4995, "limit": 10},
    {"text": "الأمريكية", "offset": 5000},
    {"text": "استهد*", "offset": 4990, "limit": 20},
    {"text": "استهد*", "limit": 50, "facet_size": 3},
    {"text": "الأمريكية", "facet_size": 0},
    {"text": "الأمريكية", "sources": ["source-1", "source-2"]},
    {"text": "استهد*", "places": ["غزة"], "since": "2025-01-01", "until": "2025-06-01"},
    {"text": "الأمريكية", "sort": "date", "offset": 10},
    {"text": "استهد*", "sort": "date", "limit": 100},
    {"event_types": ["ceasefire", "flood"], "countries": ["SY"]},
    {"text": "الأمريكية", "limit": 0},
    {"text": "استهد*", "persons": ["شخص 5"]},
    {"text": "-الأمريكية", "sort": "date"},
    {"text": "الجماعات", "until": "2024-03-01"},
    {"text": "غزة", "places": ["غزه"]},
    {"sources": ["bbc"]},
    {"text": "الأمريكية", "offset": 10000, "limit": 500},
    {"text": "استهد*", "offset": 4999, "limit": 3},
]


def specs() -> Iterator[dict[str, Any]]:
    yield from QUERIES
    for t in TEXTS:
        yield {"text": t}
        yield {"text": t, "sort": "date", "limit": 5}
    yield from EXTRA


def observed(result: SearchResult) -> dict[str, Any]:
    """Everything a reader of the result sees (a score by its hex form: every bit)."""
    hits = [
        [hit.id, hit.score.hex() if hit.score is not None else None, hit.title_highlight, hit.snippet, hit.url,
         hit.published_at.isoformat() if hit.published_at else None]
        for hit in result.hits
    ]  # fmt: skip
    facets = {name: [[v.value, v.count] for v in values] for name, values in result.facets.items()}
    return {"total": result.total, "hits": hits, "facets": facets}


def main(path: Path) -> None:
    searcher = EmbeddedSearcher(path)
    try:
        for _ in range(2):  # the second round runs with warm caches
            for spec in specs():
                line = {"q": spec, **observed(searcher.search(SearchQuery(**spec)))}
                print(json.dumps(line, ensure_ascii=False, sort_keys=True))
    finally:
        searcher.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
