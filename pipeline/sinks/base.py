"""Index sink contract: what the indexing agent calls, whichever backend (embedded store or Elasticsearch).

``write`` is idempotent (document ``_id`` = article id): the agent may redeliver a batch after a failure and
nothing doubles. A permanent per-item failure comes back as a ``Rejection`` (the agent dead-letters it with
stage ``index``); an unreachable or overloaded backend raises ``TransientError`` after bounded backoff, and the
agent retries the same batch without committing offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from processors.records import EnrichedArticle

if TYPE_CHECKING:
    from pipeline.settings import Settings


@dataclass
class Rejection:
    """A permanent per-item failure: the lead dead-letters it (stage "index")."""

    article_id: str
    reason: str
    document: str  # the JSON that was refused


class Sink(Protocol):
    async def open(self) -> None:
        """Prepare the backend (schema, template, alias) idempotently."""
        ...

    async def write(self, docs: list[EnrichedArticle]) -> list[Rejection]:
        """Index ``docs``; duplicates update their original's ``reported_by``. Raises ``TransientError``."""
        ...

    async def close(self) -> None: ...


def open_sink(settings: Settings) -> Sink:
    """The embedded store when ``settings.elasticsearch_url`` is unset, else the Elasticsearch sink."""
    if settings.embedded_store:
        from pipeline.sinks.embedded import EmbeddedSink

        return EmbeddedSink(settings.store_path)
    from pipeline.sinks.elasticsearch import ElasticsearchSink

    return ElasticsearchSink(settings)
