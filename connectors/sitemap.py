"""Connectors: ``sitemap`` sources — Google News sitemaps, ordinary sitemaps and sitemap indexes.

XML is parsed with defusedxml (no DTD entities, no external references), after decoding like every other
body (HTTP charset, then the XML declaration, then detection: connectors.encoding), so a windows-1256 news
sitemap served without a declaration still yields its Arabic titles. Entries older than the source's
``max_age_days`` (by news:publication_date, else lastmod) are skipped; of an index, only child sitemaps that
are recent (or undated) are read, newest first, at most ``MAX_CHILDREN`` per index; an index of indexes is
followed down to ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from connectors.base import ConnectorContext, PollReport
from connectors.common import add_page, fetch_changed, make_article
from connectors.config import SitemapSource
from connectors.encoding import declared_as_utf8, decode_body
from connectors.http import gunzip_capped
from connectors.pages import parse_datetime
from processors.records import RawArticle

MAX_CHILDREN = 5
MAX_DEPTH = 3  # root index → child index → urlset
XML_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.5"


@dataclass
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    title: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    image: str | None = None

    @property
    def when(self) -> datetime | None:
        return self.published_at or self.lastmod


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(node: Element, *path: str) -> str | None:
    """Text of the first descendant following local names ``path`` (namespace-agnostic)."""
    current: Element | None = node
    for name in path:
        current = next((c for c in current if _local(c.tag) == name), None) if current is not None else None
    text = current.text.strip() if current is not None and current.text else None
    return text or None


def _entry(node: Element) -> SitemapEntry | None:
    loc = _child_text(node, "loc")
    if not loc:
        return None
    return SitemapEntry(
        loc=loc,
        lastmod=parse_datetime(_child_text(node, "lastmod")),
        title=_child_text(node, "news", "title"),
        published_at=parse_datetime(_child_text(node, "news", "publication_date")),
        language=_child_text(node, "news", "publication", "language"),
        image=_child_text(node, "image", "loc"),
    )


def parse_sitemap(
    body: bytes, max_bytes: int, charset: str | None = None, language: str | None = "ar"
) -> tuple[str, list[SitemapEntry]]:
    """Return ``("urlset" | "sitemapindex", entries)``; raise ``ValueError`` on anything else."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip_capped(body, max_bytes)
    text, _ = decode_body(body, charset, language)
    try:
        root = SafeET.fromstring(declared_as_utf8(text).encode("utf-8"))
    except (ParseError, DefusedXmlException) as exc:
        raise ValueError(f"sitemap is not safe, well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap: root element <{kind}>")
    child = "url" if kind == "urlset" else "sitemap"
    entries = [e for node in root if _local(node.tag) == child and (e := _entry(node)) is not None]
    return kind, entries


def recent(entries: list[SitemapEntry], max_age_days: float, now: datetime | None = None) -> list[SitemapEntry]:
    """Entries newer than ``max_age_days`` (undated ones kept), newest first."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=max_age_days)
    kept = [e for e in entries if e.when is None or e.when >= cutoff]
    return sorted(kept, key=lambda e: e.when or datetime.min.replace(tzinfo=UTC), reverse=True)


class SitemapConnector:
    """One sitemap URL (a urlset or a sitemap index)."""

    def __init__(self, source: SitemapSource, ctx: ConnectorContext) -> None:
        self.source = source
        self.source_id = source.id
        self.ctx = ctx

    async def _read(self, url: str, report: PollReport) -> tuple[str, list[SitemapEntry]] | None:
        result = await fetch_changed(self.ctx, self.source, url, report, accept=XML_ACCEPT)
        if result is None:
            return None
        return parse_sitemap(result.body, self.ctx.fetcher.policy.max_bytes, result.charset, self.source.language)

    async def _entries(self, report: PollReport) -> list[SitemapEntry] | None:
        """Recent entries of whatever changed; None when nothing did."""
        root = await self._read(str(self.source.url), report)
        if root is None:
            # An unchanged index may still point at changed children: check the ones chosen last time.
            remembered = self.ctx.state.extra.get("sitemap_children") or []
            if not remembered:
                return None
            root = ("sitemapindex", [SitemapEntry(loc=str(loc)) for loc in remembered])
        kind, entries = root
        if kind == "urlset":
            return recent(entries, self.source.max_age_days)
        children = self._children(entries)
        self.ctx.state.extra["sitemap_children"] = [child.loc for child in children]
        found = await self._from_children(children, report, depth=1)
        return recent(found, self.source.max_age_days) if found is not None else None

    def _children(self, index_entries: list[SitemapEntry]) -> list[SitemapEntry]:
        """The child sitemaps of an index worth reading: recent or undated, newest first, MAX_CHILDREN of them."""
        return recent(index_entries, self.source.max_age_days)[:MAX_CHILDREN]

    async def _from_children(
        self, children: list[SitemapEntry], report: PollReport, depth: int
    ) -> list[SitemapEntry] | None:
        """Entries of the changed urlsets under ``children`` (indexes followed to MAX_DEPTH); None: none changed."""
        found: list[SitemapEntry] = []
        changed = False
        for child in children:
            read = await self._read(child.loc, report)
            if read is None:
                continue
            kind, entries = read
            if kind == "urlset":
                changed = True
                found.extend(entries)
            elif depth + 1 < MAX_DEPTH:
                nested = await self._from_children(self._children(entries), report, depth + 1)
                if nested is not None:
                    changed = True
                    found.extend(nested)
            else:
                report.errors.append(f"sitemap index nested deeper than {MAX_DEPTH} levels: {child.loc[:100]}")
        return found if changed else None

    async def poll(self, report: PollReport) -> AsyncIterator[RawArticle]:
        entries = await self._entries(report)
        if entries is None:
            report.status = "not_modified"
            return
        report.entries = len(entries)
        for entry in entries:
            try:
                article = make_article(
                    self.source,
                    entry.loc,
                    str(self.source.url),
                    title=entry.title or "",
                    published_at=entry.when,
                    image=entry.image,
                )
            except ValueError as exc:
                report.errors.append(f"entry {entry.loc[:100]!r}: {exc}")
                continue
            if self.ctx.state.is_seen(article.id):
                continue
            if self.source.fetch_full_text:
                fetched = await add_page(self.ctx, self.source, article, report, required=True)
                if fetched is None:
                    continue
                article = fetched
            report.new_articles += 1
            yield article
