"""Chain: the processor stages in order (extract → dedup → enrich → cluster), one object shared by the Faust
agents, `akhbar process` and the benchmarks, so all three run exactly the same code.

Every step takes and returns typed records. State (dedup, clusters) lives in the mappings passed in: plain
dicts offline, Faust tables in the worker.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from processors.cluster import ClusterConfig, StoryClusterer, StoryFacts, story_facts
from processors.dedup import DedupConfig, Deduplicator, Signed
from processors.enrich import Enricher
from processors.errors import AkhbarError, outcome_of
from processors.extract import ExtractConfig, extract_article
from processors.language import default_detector
from processors.records import Article, EnrichedArticle, RawArticle, json_with


@dataclass
class ChainConfig:
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    gazetteer_dir: Path | None = None


class ArticleChain:
    """The processors, built once (gazetteers, language model) and reused for every article."""

    def __init__(
        self,
        config: ChainConfig | None = None,
        dedup_store: MutableMapping[str, Any] | None = None,
        cluster_store: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.config = config or ChainConfig()
        self.deduplicator = Deduplicator({} if dedup_store is None else dedup_store, self.config.dedup)
        self.clusterer = StoryClusterer({} if cluster_store is None else cluster_store, self.config.cluster)
        self._enricher: Enricher | None = None

    @property
    def enricher(self) -> Enricher:
        """Built on first use (seconds: gazetteers and automata): a worker whose pool enriches never needs one."""
        if self._enricher is None:
            self._enricher = Enricher(self.config.gazetteer_dir)
        return self._enricher

    def warm(self) -> None:
        """Load everything the stateless stages load on first use (the enricher's gazetteers and automata, the
        language model: seconds each), so that a process's first batch is not seconds slower than the rest."""
        _ = self.enricher
        default_detector().load()

    def extract(self, raw: RawArticle, now: datetime | None = None) -> Article:
        """Raises ``Dropped`` or ``PermanentError``; pure and thread-safe (the worker runs it off the loop)."""
        return extract_article(raw, self.config.extract, now)

    def extract_signed(self, raw: RawArticle) -> tuple[Article, Signed]:
        """``extract`` and the text's dedup signature: both stateless, so the worker's pool computes them while
        the text's normalisation is fresh, and only the stateful decision is left to ``deduplicate``."""
        article = self.extract(raw)
        return article, self.deduplicator.signer.signature(article.text)

    def deduplicate(self, article: Article, signed: Signed | None = None) -> Article:
        article.dedup = self.deduplicator.check(article, signed)
        return article

    def enrich(self, article: Article) -> EnrichedArticle:
        return self.assign_cluster(self.enrich_content(article))

    def enrich_packed(self, article: Article) -> tuple[bytes, StoryFacts]:
        """``enrich_content`` as JSON without its dedup info, and what clustering reads of it: both stateless,
        so the worker's pool makes them and the worker neither unpickles nor serialises the enriched article."""
        enriched = self.enrich_content(article)
        facts = story_facts(enriched, self.clusterer.content_words(enriched.title, enriched.text))
        return enriched.model_dump_json(exclude={"dedup"}).encode("utf-8"), facts

    def enrich_content(self, article: Article) -> EnrichedArticle:
        """Enrich a unique article; a duplicate is not enriched again (the sink folds it into its original).
        Pure and stateless: the worker runs it in its CPU pool."""
        if article.dedup.status == "unique":
            return self.enricher.enrich(article)
        return EnrichedArticle.model_validate(article.model_dump())

    def assign_cluster(self, enriched: EnrichedArticle, words: np.ndarray | None = None) -> EnrichedArticle:
        """The story cluster (a duplicate takes its original's, which clustering may have moved since dedup
        judged it); reads and writes the cluster store, so it runs in arrival order."""
        enriched.dedup.cluster_id = self.clusterer.assign(enriched, words)
        return enriched

    def assign_packed(self, body: bytes, facts: StoryFacts) -> bytes:
        """``assign_cluster`` for the output of ``enrich_packed``: the enriched article's JSON, dedup info
        included, with its story cluster."""
        cluster = self.clusterer.assign_facts(facts)
        return json_with(body, "dedup", facts.dedup.model_copy(update={"cluster_id": cluster}).to_json())

    def process(self, raw: RawArticle, now: datetime | None = None) -> EnrichedArticle:
        """All stages for one raw article (offline use): raises ``Dropped`` or ``PermanentError``."""
        return self.enrich(self.deduplicate(self.extract(raw, now)))

    def process_batch(self, raws: Sequence[RawArticle], now: datetime | None = None) -> list[Processed]:
        """``process`` for a batch, stage by stage as the worker runs it (extraction and enrichment of a batch
        in its pool, dedup and clustering in arrival order): each article's enriched record or the error that
        ended it, in input order. The results are ``process``'s one at a time (stateless stages between
        stateful ones in order), but a stage's tables (the language model's ~100 MB, the automata) stay in the
        CPU's caches across the batch instead of being evicted by the other stages at every article."""
        outcomes: list[Processed] = list(raws)
        _stage(outcomes, lambda raw: self.extract(raw, now), "extract")
        _stage(outcomes, self.deduplicate, "dedup")
        _stage(outcomes, self.enrich_content, "enrich")
        _stage(outcomes, self.assign_cluster, "cluster")
        return outcomes


Processed = Any  # per article, its record so far, then the EnrichedArticle, or the AkhbarError that ended it


def _stage(outcomes: list[Processed], call: Callable[[Any], Any], stage: str) -> None:
    """Apply ``call`` in place to every outcome still in flight; its error takes the article's place."""
    for index, item in enumerate(outcomes):
        if not isinstance(item, AkhbarError):
            outcomes[index] = outcome_of(call, item, stage)
