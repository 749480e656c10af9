"""Connectors: the small protocol every connector kind (rss, web, sitemap) implements.

A connector is built from one validated source and polled by the runner. It yields raw articles; publishing,
scheduling, politeness and state live outside it, so a connector is testable with a fake fetcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from processors.records import RawArticle

if TYPE_CHECKING:
    from connectors.http import HttpFetcher
    from connectors.pages import PageFetcher
    from connectors.state import SourceState, Validators


@dataclass
class PollReport:
    """What one poll of one source found (shown by `akhbar feeds check` and the live status)."""

    source: str
    status: str = "ok"  # ok | not_modified | error
    http_status: int | None = None
    entries: int = 0
    new_articles: int = 0
    encoding: str | None = None
    last_modified: str | None = None
    errors: list[str] = field(default_factory=list)
    # Applied by the runner only once every new article is published, so a failed publish is retried.
    validators: dict[str, Validators] = field(default_factory=dict)
    # article id -> the id of the URL it was found under, when a page's canonical link changed it.
    aliases: dict[str, str] = field(default_factory=dict)
    pages_fetched: int = 0
    # Set when some articles were left for a later poll: the validators are then not stored.
    incomplete: bool = False


@dataclass
class ConnectorContext:
    """What a connector may use: the shared client, the page fetcher and its own state."""

    fetcher: HttpFetcher
    pages: PageFetcher
    state: SourceState


class Connector(Protocol):
    """One source of one kind."""

    source_id: str

    def poll(self, report: PollReport) -> AsyncIterator[RawArticle]:
        """Fetch the source once and yield the articles it holds; record problems in ``report``."""
        ...
