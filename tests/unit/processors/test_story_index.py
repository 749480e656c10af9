"""StoryIndex: numpy ranking over serial numbers equals the plain definition (Counter over ids, sorted)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.story_index import Stored, StoryIndex

KEYS = [f"place:{n}" for n in range(6)] + ["per:a", "org:b"]
WINDOW = 10.0


def reference(
    index: StoryIndex, keys: list[str], moment: float, exclude: str, limit: int, first: str | None
) -> list[str]:
    """Most shared keys first, ties by id, recent ones only; ``first`` leads when it is not among them."""
    hits: Counter[str] = Counter(i for key in keys for i in reference_postings(index, key))
    hits.pop(exclude, None)
    recent = [i for i in hits if i in index.articles and abs(moment - index.articles[i].time) <= WINDOW]
    ranked = sorted(recent, key=lambda i: (-hits[i], i))
    if first and first not in ranked:
        ranked.insert(0, first)
    return ranked[:limit]


def reference_postings(index: StoryIndex, key: str) -> list[str]:
    return [index._ids[serial] for serial in index.postings.get(key, [])]


@st.composite
def operations(draw: st.DrawFn) -> list[tuple]:
    steps = []
    for _ in range(draw(st.integers(min_value=1, max_value=60))):
        kind = draw(st.sampled_from(["add", "add", "add", "rank", "expire"]))
        article_id = f"id{draw(st.integers(min_value=0, max_value=25)):02d}"
        time = float(draw(st.integers(min_value=0, max_value=40)))
        keys = draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True))
        steps.append((kind, article_id, time, keys, draw(st.integers(min_value=1, max_value=6))))
    return steps


@settings(max_examples=80, deadline=None)
@given(operations())
def test_ranking_equals_the_plain_definition(steps: list[tuple]) -> None:
    index = StoryIndex(max_postings=5)
    postings: dict[str, list[str]] = {}  # the old layout: newest max_postings ids per key, the oldest first
    for kind, article_id, time, keys, limit in steps:
        if kind == "add":
            index.add(article_id, Stored("c", time, frozenset(keys), np.empty(0, dtype=np.uint32)))
            for key in keys:
                posting = postings.setdefault(key, [])
                if article_id in posting:
                    posting.remove(article_id)
                posting.append(article_id)
                del posting[:-5]
        elif kind == "expire":
            index.expire(time)
            postings = {k: kept for k, p in postings.items() if (kept := [i for i in p if i in index.articles])}
        else:
            first = random.Random(time).choice([None, "id03", article_id, "missing"])
            expected = reference(index, keys, time, article_id, limit, first)
            assert index.ranked(keys, time, WINDOW, article_id, limit, first=first) == expected
        assert {k: reference_postings(index, k) for k in index.postings} == postings
