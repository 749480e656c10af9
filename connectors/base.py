"""Connectors: the small protocol every connector kind (rss, web, sitemap) implements.

A connector is built from one validated source and polled by the runner. It yields raw articles; publishing,
scheduling, politeness and state live outside it, so a connector is testable with a fake fetcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from processors.records import RawArticle


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


class Connector(Protocol):
    """One source of one kind."""

    source_id: str

    def poll(self, report: PollReport) -> AsyncIterator[RawArticle]:
        """Fetch the source once and yield the articles it holds; record problems in ``report``."""
        ...
