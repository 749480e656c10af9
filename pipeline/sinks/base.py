"""Index sink contract: what the indexing agent calls, whichever backend (embedded store or Elasticsearch).

``write`` is idempotent (document ``_id`` = article id): the agent may redeliver a batch after a failure and
nothing doubles. A permanent per-item failure comes back as a ``Rejection`` (the agent dead-letters it with
stage ``index``); an unreachable or overloaded backend raises ``TransientError`` after bounded backoff, and the
agent retries the same batch without committing offsets.

``write_serialized`` takes the messages as they came off ``news.enriched.v1``: a sink may parse and build them
wherever it likes (the embedded store does it in its writer process, off the worker's event loop and GIL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import ValidationError

from processors.records import EnrichedArticle, validation_reason

if TYPE_CHECKING:
    from pipeline.settings import Settings


@dataclass
class Rejection:
    """A permanent per-item failure: the lead dead-letters it (stage "index")."""

    article_id: str
    reason: str
    document: str  # the JSON that was refused


@dataclass
class Written:
    """What became of a batch of serialised messages, by position in the batch."""

    ids: list[str | None]  # each message's article id; None where it could not be read
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (position, why): not an EnrichedArticle
    rejections: list[Rejection] = field(default_factory=list)
    times: list[tuple[float, float]] = field(default_factory=list)  # (fetched, published) POSIX times, stored


def parse_serialized(values: list[bytes]) -> tuple[list[EnrichedArticle], Written]:
    """The messages that are enriched articles, and a ``Written`` naming the others (its rejections and times
    are filled in once the articles are written)."""
    docs: list[EnrichedArticle] = []
    written = Written(ids=[])
    for position, value in enumerate(values):
        try:
            doc = EnrichedArticle.model_validate_json(value)
        except ValidationError as exc:
            written.unreadable.append((position, validation_reason(exc)))
            written.ids.append(None)
            continue
        docs.append(doc)
        written.ids.append(doc.id)
    return docs, written


def completed(written: Written, docs: list[EnrichedArticle], rejections: list[Rejection]) -> Written:
    """``written`` with the rejections of ``docs`` and the times of those that were stored."""
    rejected = {rejection.article_id for rejection in rejections}
    written.rejections = rejections
    written.times = [(d.fetched_at.timestamp(), d.published_at.timestamp()) for d in docs if d.id not in rejected]
    return written


class Sink(Protocol):
    async def open(self) -> None:
        """Prepare the backend (schema, template, alias) idempotently."""
        ...

    async def write(self, docs: list[EnrichedArticle]) -> list[Rejection]:
        """Index ``docs``; duplicates update their original's ``reported_by``. Raises ``TransientError``."""
        ...

    async def write_serialized(self, values: list[bytes]) -> Written:
        """``write`` for messages not parsed yet; a message that is not an enriched article is reported in
        ``Written.unreadable``, never raised. Raises ``TransientError``."""
        ...

    async def close(self) -> None: ...


def open_sink(settings: Settings) -> Sink:
    """The embedded store when ``settings.elasticsearch_url`` is unset, else the Elasticsearch sink."""
    if settings.embedded_store:
        from pipeline.sinks.embedded_sink import EmbeddedSink

        return EmbeddedSink(settings.store_path, writer_process=settings.cpu_processes != 0)
    from pipeline.sinks.elasticsearch import ElasticsearchSink

    return ElasticsearchSink(settings)
