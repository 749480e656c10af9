"""Connectors: RSS 2.0 / Atom / RDF feeds through feedparser.

We decode the bytes ourselves (see ``connectors.encoding``) and hand feedparser UTF-8, so the order of trust
between header, declaration and detection is ours and the encoding is known for the record. A feed whose
prolog declares entities is refused outright (no entity expansion of any kind); feedparser never fetches
external entities. A malformed ("bozo") feed still yields its good entries, and the problem is recorded.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from connectors.base import ConnectorContext, PollReport
from connectors.common import add_page, fetch_changed, make_article
from connectors.config import RssSource
from connectors.encoding import declared_as_utf8, decode_body
from processors.records import RawArticle
from processors.urls import article_id

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


@dataclass
class ParsedFeed:
    entries: list[Any] = field(default_factory=list)
    encoding: str | None = None
    problems: list[str] = field(default_factory=list)
    title: str | None = None


def _prolog(body: bytes) -> bytes:
    """Everything before the root element (where a DOCTYPE and its entities would be)."""
    index = re.search(rb"<(?![?!])", body[:65536])
    return body[: index.start()] if index else body[:65536]


def parse_feed(body: bytes, header_charset: str | None, language: str | None, base_url: str) -> ParsedFeed:
    """Decode and parse a feed body; raise ``ValueError`` when it holds no feed at all."""
    if ENTITY_DECL.search(_prolog(body)):
        raise ValueError("feed declares XML entities (refused: entity expansion attacks)")
    text, encoding = decode_body(body, header_charset, language)
    parsed = feedparser.parse(
        declared_as_utf8(text).encode("utf-8"),
        response_headers={"content-type": "application/xml; charset=utf-8", "content-location": base_url},
        sanitize_html=True,
        resolve_relative_uris=False,  # links inside content HTML: not needed for text, and a third of the cost
    )
    feed = ParsedFeed(entries=list(parsed.entries), encoding=encoding, title=parsed.feed.get("title"))
    if parsed.bozo:
        feed.problems.append(f"malformed feed: {type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}")
    if not parsed.get("version") and not feed.entries:  # an empty body has no version attribute at all
        raise ValueError(f"not a feed: {feed.problems[0] if feed.problems else 'no RSS/Atom root element'}")
    return feed


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict maps a missing updated_parsed to published_parsed with a DeprecationWarning
        value = dict.get(entry, key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _image(entry: Any) -> str | None:
    for key in ("media_content", "media_thumbnail"):
        for item in entry.get(key) or []:
            if item.get("url") and item.get("medium", "image") == "image":
                return str(item["url"])
    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return str(link.get("href"))
    return None


def _authors(entry: Any) -> list[str]:
    names = [str(a.get("name")).strip() for a in entry.get("authors") or [] if a.get("name")]
    return [n for n in names if n] or ([entry["author"]] if entry.get("author") else [])


def _link(entry: Any) -> str | None:
    link = entry.get("link")
    if link:
        return str(link)
    guid = str(entry.get("id") or "")
    return guid if guid.startswith(("http://", "https://")) else None


def entry_to_article(entry: Any, source: RssSource, feed_url: str, encoding: str | None) -> RawArticle:
    """Map one feedparser entry to a RawArticle (raises ``ValueError`` when it has no usable link)."""
    link = _link(entry)
    if not link:
        raise ValueError(f"entry {entry.get('title', '')[:60]!r} has no link")
    content = entry.get("content") or []
    text = "\n".join(str(c.get("value", "")) for c in content if c.get("value")) or None
    return make_article(
        source,
        link,
        feed_url,
        title=str(entry.get("title") or "").strip(),
        text=text,
        summary=entry.get("summary") or None,
        published_at=_when(entry),
        authors=_authors(entry),
        image=_image(entry),
        encoding=encoding,
    )


class RssConnector:
    """One RSS/Atom feed."""

    def __init__(self, source: RssSource, ctx: ConnectorContext) -> None:
        self.source = source
        self.source_id = source.id
        self.ctx = ctx

    async def poll(self, report: PollReport) -> AsyncIterator[RawArticle]:
        url = str(self.source.url)
        result = await fetch_changed(self.ctx, self.source, url, report, accept=FEED_ACCEPT)
        if result is None:
            report.status = "not_modified"
            return
        feed = parse_feed(result.body, result.charset, self.source.language, result.url)
        report.encoding = feed.encoding
        report.entries = len(feed.entries)
        report.errors.extend(feed.problems)
        for entry in feed.entries:
            link = _link(entry)
            try:
                if link and self.ctx.state.is_seen(article_id(link)):
                    continue  # cheap check first: most entries of a changed feed are old
                article = entry_to_article(entry, self.source, url, feed.encoding)
            except ValueError as exc:
                report.errors.append(str(exc))
                continue
            if self.source.fetch_full_text:
                fetched = await add_page(self.ctx, self.source, article, report)
                if fetched is None:
                    continue
                article = fetched
            report.new_articles += 1
            yield article
