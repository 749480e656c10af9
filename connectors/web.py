"""Connectors: ``web`` sources — listing pages, article links chosen by the source's patterns, article pages.

Each listing page is fetched conditionally, unless robots.txt disallows it (then it is reported as an error
of the poll and never requested); links whose absolute URL matches one of ``link_patterns`` (``re.search``)
and whose article id is not yet seen are fetched as article pages (robots.txt respected), at most
``MAX_PAGES_PER_POLL`` per poll; the rest wait for the next poll.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from connectors.base import ConnectorContext, PollReport
from connectors.common import add_page, fetch_changed, make_article
from connectors.config import WebSource
from connectors.encoding import decode_body
from connectors.http import FetchError
from connectors.pages import parse_page
from processors.records import RawArticle
from processors.urls import article_id, canonical_url

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


def match_links(links: list[str], patterns: list[re.Pattern[str]]) -> list[str]:
    """Links matching any pattern, canonical, in page order, without repeats."""
    found: dict[str, None] = {}
    for link in links:
        if not link.startswith(("http://", "https://")) or not any(p.search(link) for p in patterns):
            continue
        try:
            found.setdefault(canonical_url(link), None)
        except ValueError:
            continue
    return list(found)


class WebConnector:
    """Listing pages of one outlet, and the article pages they link to."""

    def __init__(self, source: WebSource, ctx: ConnectorContext) -> None:
        self.source = source
        self.source_id = source.id
        self.ctx = ctx
        self.patterns = [re.compile(p) for p in source.link_patterns]

    async def _listing_links(self, report: PollReport) -> list[str] | None:
        """Article links of every changed listing page; None when none changed."""
        links: list[str] = []
        changed = False
        failures: list[FetchError] = []
        for listing in self.source.urls:
            try:
                if not await self.ctx.pages.allowed(str(listing), self.source.allow_private):
                    raise FetchError("robots", f"robots.txt disallows {listing}")
                result = await fetch_changed(self.ctx, self.source, str(listing), report, accept=HTML_ACCEPT)
            except FetchError as exc:
                failures.append(exc)
                report.errors.append(f"listing {listing}: {exc}")
                continue
            if result is None:
                continue
            changed = True
            html, encoding = decode_body(result.body, result.charset, self.source.language)
            report.encoding = encoding
            links.extend(match_links(parse_page(result.url, html, encoding).links, self.patterns))
        if failures and len(failures) == len(self.source.urls):
            raise failures[-1]
        return list(dict.fromkeys(links)) if changed else None

    async def poll(self, report: PollReport) -> AsyncIterator[RawArticle]:
        links = await self._listing_links(report)
        if links is None:
            report.status = "not_modified"
            return
        report.entries = len(links)
        for link in links:
            if self.ctx.state.is_seen(article_id(link)):
                continue
            article = await add_page(
                self.ctx, self.source, make_article(self.source, link, None), report, required=True
            )
            if article is None:
                continue
            report.new_articles += 1
            yield article
