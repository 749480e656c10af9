"""Dedup quality on the annotated dev set (tests/fixtures/dedup): the targets of issue 4."""

from __future__ import annotations

import random

import pytest

from processors.dedup import Deduplicator
from processors.records import DedupInfo
from tests.unit.processors.devset import Scores, load_devset, pairwise_scores, to_article


def run(order: list[dict]) -> tuple[Scores, dict[str, DedupInfo]]:
    items, pairs = load_devset()
    dedup = Deduplicator({})
    decisions = {item["id"]: dedup.check(to_article(item, position)) for position, item in enumerate(order)}
    return pairwise_scores(items, decisions, pairs), decisions


def test_devset_is_large_enough() -> None:
    items, pairs = load_devset()
    assert len(pairs) >= 60 and len(items) >= 100
    labels = {p["label"] for p in pairs}
    assert labels == {"reprint", "same_story", "distinct"}
    assert len({i["country"] for i in items}) >= 8


def test_targets_in_arrival_order() -> None:
    items, _ = load_devset()
    scores, decisions = run(items)
    assert scores.precision >= 0.98
    assert scores.recall >= 0.95, scores.missed[:10]
    assert scores.merged_distinct == []
    assert all(decisions[i["id"]].status == "unique" for i in items if i["edit"] == "original")


@pytest.mark.parametrize("seed", range(5))
def test_targets_in_shuffled_order(seed: int) -> None:
    items, _ = load_devset()
    order = items[:]
    random.Random(seed).shuffle(order)
    scores, _ = run(order)
    assert scores.precision >= 0.98
    assert scores.recall >= 0.95, scores.missed[:10]
    assert scores.merged_distinct == []


def test_same_story_reports_are_not_duplicates() -> None:
    items, pairs = load_devset()
    _, decisions = run(items)
    for pair in pairs:
        if pair["label"] == "same_story":
            assert decisions[pair["b"]].status == "unique", pair
