"""Chain: a batch processed stage by stage gives what the chain gives one article at a time, errors included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchmarks.corpus import build
from processors.chain import ArticleChain
from processors.errors import AkhbarError, Dropped, PermanentError
from processors.records import RawArticle

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def batch() -> list[RawArticle]:
    corpus = build(80, seed=7)
    reprint = corpus[3].model_copy(update={"id": "f" * 64, "url": "https://other.example/reprint", "source": "o"})
    short = corpus[5].model_copy(update={"id": "e" * 64, "text": "نص قصير جدا", "html": None})
    english = corpus[6].model_copy(update={"id": "d" * 64, "text": "The ministry said on Monday. " * 40})
    bad_id = corpus[7].model_copy(update={"id": "not-a-digest"})
    return [*corpus[:40], reprint, short, english, bad_id, corpus[3], *corpus[40:]]


def one_at_a_time(chain: ArticleChain, raws: list[RawArticle]) -> list[object]:
    outcomes: list[object] = []
    for raw in raws:
        try:
            outcomes.append(chain.process(raw, NOW))
        except AkhbarError as exc:
            outcomes.append(exc)
    return outcomes


def comparable(outcome: object) -> object:
    if isinstance(outcome, AkhbarError):
        return type(outcome).__name__, outcome.stage, outcome.reason
    return outcome.model_dump(mode="json", exclude={"enriched_at"})  # type: ignore[attr-defined]  # the clock


def test_batches_give_the_one_at_a_time_results(batch: list[RawArticle]) -> None:
    single = ArticleChain()
    expected = [comparable(o) for o in one_at_a_time(single, batch)]
    batched = ArticleChain()
    batched._enricher = single.enricher  # stateless, and seconds to build
    got = [comparable(o) for size in (7, 32) for o in batched_run(batched, batch, size)]
    assert got[: len(batch)] == expected
    kinds = {e[0] if isinstance(e, tuple) else e["dedup"]["status"] for e in expected}  # type: ignore[index]
    assert {"unique", "duplicate", "Dropped", "PermanentError"} <= kinds  # every path was taken
    # the second pass, on the same chain, is a redelivery of every article: the first decisions again
    assert got[len(batch) :] == expected


def batched_run(chain: ArticleChain, raws: list[RawArticle], size: int) -> list[object]:
    outcomes: list[object] = []
    for first in range(0, len(raws), size):
        outcomes += chain.process_batch(raws[first : first + size], NOW)
    assert len(outcomes) == len(raws)
    return outcomes


def test_a_bug_on_one_article_is_its_dead_letter_not_the_batchs(batch: list[RawArticle]) -> None:
    chain = ArticleChain()

    def fail_on_fifth(article: object) -> object:
        if article is not None and getattr(article, "id", "") == batch[4].id:
            raise ValueError("boom")
        return ArticleChain.deduplicate(chain, article)  # type: ignore[arg-type]

    chain.deduplicate = fail_on_fifth  # type: ignore[method-assign]
    outcomes = chain.process_batch(batch[:6], NOW)
    assert isinstance(outcomes[4], PermanentError)
    assert (outcomes[4].stage, outcomes[4].reason) == ("dedup", "ValueError: boom")
    assert not any(isinstance(o, (Dropped, PermanentError)) for o in outcomes[:4] + outcomes[5:])
