"""The annotated dedup dev set (tests/fixtures/dedup) as Articles, and pairwise precision/recall of a run."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from processors.extract import text_hash
from processors.records import Article, DedupInfo

DEVSET = Path(__file__).parents[2] / "fixtures" / "dedup"
START = datetime(2024, 11, 13, 6, 0, tzinfo=UTC)


def load_devset() -> tuple[list[dict], list[dict]]:
    articles = [json.loads(line) for line in (DEVSET / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [json.loads(line) for line in (DEVSET / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    return articles, pairs


def to_article(item: dict, position: int) -> Article:
    moment = START + timedelta(minutes=position)
    return Article(
        id=item["id"],
        url=f"https://{item['id'].split('~')[-1]}.example/{item['id']}",
        source=item["id"].split("~")[-1],
        title=item["title"],
        text=item["text"],
        language="ar",
        published_at=moment,
        published_at_method="feed",
        fetched_at=moment,
        extraction_method="text",
        text_hash=text_hash(item["text"]),
    )


@dataclass
class Scores:
    precision: float
    recall: float
    merged_distinct: list[tuple[str, str]]
    missed: list[tuple[str, str]]


def pairwise_scores(items: list[dict], decisions: dict[str, DedupInfo], labelled: list[dict]) -> Scores:
    """Precision/recall over every pair of the set: a pair is predicted a duplicate when both share a root."""
    root = {i["id"]: decisions[i["id"]].duplicate_of or i["id"] for i in items}
    family = {i["id"]: i["family"] for i in items}
    true_positive = false_positive = false_negative = 0
    missed: list[tuple[str, str]] = []
    for a, b in itertools.combinations(sorted(root), 2):
        predicted, actual = root[a] == root[b], family[a] == family[b]
        true_positive += predicted and actual
        false_positive += predicted and not actual
        false_negative += actual and not predicted
        if actual and not predicted:
            missed.append((a, b))
    merged = [(p["a"], p["b"]) for p in labelled if p["label"] != "reprint" and root[p["a"]] == root[p["b"]]]
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 1.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 1.0
    return Scores(precision, recall, merged, missed)
