"""CPU pool: extraction and enrichment of a batch in worker processes give what the worker itself would, item by
item and in order, and a process dying on one article dead-letters that article only."""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
from pathlib import Path

import pytest

from pipeline.cpu_pool import CpuPool
from pipeline.runtime import THRESHOLDS
from processors.chain import ArticleChain
from processors.cluster import story_keys
from processors.errors import Dropped, PermanentError, TransientError
from processors.language import default_detector
from processors.records import EnrichedArticle, RawArticle, json_with
from processors.urls import article_id

SAMPLE = Path(__file__).parents[2] / "fixtures" / "dedup" / "seed-article-deir-ez-zor.txt"


def raw(n: int, title: str, text: str) -> RawArticle:
    url = f"https://e.com/{n}"
    return RawArticle(id=article_id(url), url=url, source="s", title=title, text=text)


def raws() -> list[RawArticle]:
    text = SAMPLE.read_text(encoding="utf-8")
    other = text.replace("دير الزور", "حلب")
    return [raw(1, "قصف على دير الزور", text), raw(2, "قصير", "نص قصير"), raw(3, "عنوان", other)]


def language_model_loaded(_: object = None) -> bool:
    """Runs in a pool process: whether its language model is in memory yet."""
    return default_detector().loaded


def die_on_poison(items: list[str]) -> list[str]:
    """Runs in a pool process: the article named "poison" kills it, as a crash in a C extension would."""
    if "poison" in items:
        os._exit(3)
    return [item.upper() for item in items]


@pytest.mark.parametrize("error", [PermanentError("bad page", stage="extract"), Dropped("too_short", stage="dedup"),
                                   TransientError("503", stage="index")])  # fmt: skip
def test_errors_keep_their_stage_across_processes(error):
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.reason, copy.stage) == (type(error), error.reason, error.stage)


def test_in_thread_outcomes_are_per_item_and_in_order():
    chain = ArticleChain()
    outcomes = asyncio.run(CpuPool(chain, processes=0).extract(raws()))
    kept = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert [article.url for article, _ in kept] == ["https://e.com/1", "https://e.com/3"]
    for article, (signature, size) in kept:
        expected, expected_size = chain.deduplicator.signer.signature(article.text)
        assert (signature == expected).all() and size == expected_size
    assert isinstance(outcomes[1], Dropped) and outcomes[1].reason == "too_short"


def test_processes_give_what_the_worker_would():
    chain = ArticleChain()
    pool = CpuPool(chain, processes=2)
    pool.start()
    try:
        assert pool._executor is not None  # each process runs with akhbar's collector thresholds
        assert {pool._executor.submit(gc.get_threshold).result() for _ in range(4)} == {THRESHOLDS}
        # loaded at start, not by whichever process takes its first article (seconds into the first batch)
        assert {pool._executor.submit(language_model_loaded).result() for _ in range(4)} == {True}
        extracted = asyncio.run(pool.extract(raws()))
        articles = [chain.deduplicate(*pair) for pair in extracted if not isinstance(pair, BaseException)]
        enriched = asyncio.run(pool.enrich(articles))
    finally:
        pool.close()
    assert isinstance(extracted[1], Dropped) and extracted[1].stage == "extract"
    signer = chain.deduplicator.signer
    for (_, (signature, size)), article in zip([extracted[0], extracted[2]], articles, strict=True):
        expected, expected_size = signer.signature(article.text)
        assert (signature == expected).all() and size == expected_size
    here = [chain.enrich_content(a) for a in articles]
    there = [
        EnrichedArticle.model_validate_json(json_with(body, "dedup", facts.dedup.to_json())) for body, facts in enriched
    ]
    assert [e.model_dump(exclude={"enriched_at"}) for e in there] == [
        e.model_dump(exclude={"enriched_at"}) for e in here
    ]
    for e, (_, facts) in zip(here, enriched, strict=True):
        assert (facts.words == chain.clusterer.content_words(e.title, e.text)).all()
        assert facts.keys == story_keys(e) and facts.id == e.id and facts.moment == e.published_at.timestamp()
    assert {p.name_en for p in there[0].places} >= {"Deir ez-Zor"}


def test_a_process_dying_on_one_article_dead_letters_only_that_one():
    pool = CpuPool(ArticleChain(), processes=1)
    try:
        outcomes = asyncio.run(pool._run(die_on_poison, ["a", "poison", "b", "c"], "enrich"))
        after = asyncio.run(pool._run(die_on_poison, ["d", "e"], "enrich"))
    finally:
        pool.close()
    assert outcomes[0] == "A" and outcomes[2:] == ["B", "C"]
    assert isinstance(outcomes[1], PermanentError) and outcomes[1].stage == "enrich"
    assert "process died" in outcomes[1].reason
    assert after == ["D", "E"] and pool.restarts == 2  # the batch's crash, then the poison article's own
