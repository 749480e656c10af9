"""Connectors: article page fetches — robots.txt, decoding, and page metadata (canonical link, title, date).

robots.txt follows RFC 9309 as far as the standard library's parser goes: a 4xx robots.txt allows everything,
a 5xx or unreachable one disallows the host for a while, and results are cached per host.
"""

from __future__ import annotations

import time
import urllib.robotparser
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from connectors.encoding import decode_body
from connectors.http import FetchError, HttpFetcher

ROBOTS_TTL = 3600.0
ROBOTS_ERROR_TTL = 300.0
DATE_META = ("article:published_time", "og:published_time", "pubdate", "publishdate", "date", "dc.date")


@dataclass
class Page:
    """A fetched HTML page and what its head says about the article."""

    url: str
    html: str
    encoding: str
    canonical: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    image: str | None = None
    authors: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime as a timezone-aware datetime (UTC when no zone is given)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def same_site(first: str, second: str) -> bool:
    """True when two URLs share a registrable-looking host suffix (last two labels)."""
    a = (urlsplit(first).hostname or "").split(".")[-2:]
    b = (urlsplit(second).hostname or "").split(".")[-2:]
    return bool(a) and a == b


def _meta(doc: lxml.html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for node in doc.xpath(
            "//meta[translate(@property,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')=$n "
            "or translate(@name,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')=$n]",
            n=name,
        ):
            content = (node.get("content") or "").strip()
            if content:
                return content
    return None


def parse_page(url: str, html: str, encoding: str) -> Page:
    """Read the canonical link, title, date, image, authors and all links of an HTML page."""
    page = Page(url=url, html=html, encoding=encoding)
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return page
    for href in doc.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href"):
        candidate = urljoin(url, str(href).strip())
        if candidate.startswith(("http://", "https://")) and same_site(candidate, url):
            page.canonical = candidate
            break
    title = _meta(doc, "og:title", "twitter:title")
    if not title:
        nodes = doc.xpath("//title")
        title = nodes[0].text_content().strip() if nodes else None
    page.title = title or None
    page.published_at = parse_datetime(_meta(doc, *DATE_META)) or parse_datetime(
        next(iter(doc.xpath("//time/@datetime")), None)
    )
    image = _meta(doc, "og:image", "twitter:image")
    page.image = urljoin(url, image) if image else None
    author = _meta(doc, "author", "article:author")
    page.authors = [author] if author and not author.startswith("http") else []
    page.links = [urljoin(url, str(h).strip()) for h in doc.xpath("//a/@href")]
    return page


class PageFetcher:
    """Fetches HTML pages through the shared client, honouring robots.txt when the policy asks for it."""

    def __init__(self, fetcher: HttpFetcher) -> None:
        self.fetcher = fetcher
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}

    @property
    def agent_token(self) -> str:
        return self.fetcher.user_agent.split("/", 1)[0].split()[0] or "*"

    async def _robots_for(self, url: str, allow_private: bool) -> urllib.robotparser.RobotFileParser | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        parser = urllib.robotparser.RobotFileParser()
        try:
            result = await self.fetcher.fetch(f"{origin}/robots.txt", allow_private=allow_private)
            text, _ = decode_body(result.body, result.charset, language=None)
            parser.parse(text.splitlines())
        except FetchError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                # Unreachable or 5xx (RFC 9309 §2.3.1.4): treat the host as disallowed for a while.
                self._robots[origin] = (time.monotonic() + ROBOTS_ERROR_TTL, None)
                return None
            parser.parse([])  # no robots.txt: everything allowed
        self._robots[origin] = (time.monotonic() + ROBOTS_TTL, parser)
        return parser

    async def allowed(self, url: str, allow_private: bool = False) -> bool:
        if not self.fetcher.policy.respect_robots:
            return True
        parser = await self._robots_for(url, allow_private)
        return parser is not None and parser.can_fetch(self.agent_token, url)

    async def fetch(self, url: str, *, allow_private: bool = False, language: str | None = "ar") -> Page:
        """Fetch and parse one page; raise ``FetchError`` (kind ``robots`` when robots.txt forbids it)."""
        if not await self.allowed(url, allow_private):
            raise FetchError("robots", f"robots.txt disallows {url}")
        result = await self.fetcher.fetch(
            url, allow_private=allow_private, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
        )
        html, encoding = decode_body(result.body, result.charset, language)
        return parse_page(result.url, html, encoding)
