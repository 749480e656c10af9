"""Extraction: read an article page's structured metadata (JSON-LD, OpenGraph, meta tags).

Dates come only from structured metadata (JSON-LD `datePublished`, `article:published_time`, itemprop, a
`<time datetime>` in the article), never from free text: guessing dates from prose (what htmldate's extensive
search does) is how news archives end up with wrong publication dates. Trafilatura supplies title and author
heuristics; this module supplies what it does not (full timestamps, canonical link, JSON-LD authors) and the
fallback text extractor used when trafilatura returns nothing or too little.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from lxml.html import HtmlElement

_ARTICLE_TYPES = frozenset({"newsarticle", "article", "reportagenewsarticle", "blogposting", "analysisnewsarticle"})
_DATE_META = (
    "article:published_time", "og:published_time", "og:article:published_time", "datepublished", "pubdate",
    "publishdate", "publish-date", "publish_date", "date", "dc.date.issued", "dc.date", "dcterms.created",
    "sailthru.date", "parsely-pub-date", "article.published", "published_time",
)  # fmt: skip
_ISO_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_NOISE_XPATH = (
    "//script|//style|//noscript|//nav|//header|//footer|//aside|//form|//iframe|//svg|//button"
    "|//*[contains(@class,'share') or contains(@class,'social') or contains(@class,'related')"
    " or contains(@class,'comment') or contains(@class,'sidebar') or contains(@class,'widget')"
    " or contains(@class,'menu') or contains(@id,'related') or contains(@id,'comments')]"
)


@dataclass
class PageMeta:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    image: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    published_at: datetime | None = None


def parse_date(value: Any) -> datetime | None:
    """A timezone-aware datetime from an ISO 8601, RFC 2822 or YYYY/MM/DD value (naive values taken as UTC)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = _loose_iso(text)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _loose_iso(text: str) -> datetime | None:
    match = _ISO_DATE.search(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(p) if p else 0 for p in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def read_page_meta(tree: HtmlElement) -> PageMeta:
    """Metadata from JSON-LD first, then OpenGraph/meta tags, then the document itself."""
    meta = PageMeta()
    for obj in _json_ld_articles(tree):
        meta.published_at = meta.published_at or parse_date(obj.get("datePublished"))
        meta.title = meta.title or _text(obj.get("headline"))
        meta.authors = meta.authors or _names(obj.get("author"))
        meta.image = meta.image or _url_of(obj.get("image"))
        meta.canonical_url = meta.canonical_url or _url_of(obj.get("mainEntityOfPage")) or _text(obj.get("url"))
    tags = _meta_tags(tree)
    meta.title = meta.title or tags.get("og:title") or tags.get("twitter:title") or _first_text(tree, "//h1")
    meta.title = meta.title or _first_text(tree, "//title")
    meta.image = meta.image or tags.get("og:image") or tags.get("twitter:image")
    meta.site_name = tags.get("og:site_name")
    if not meta.authors and tags.get("author"):
        meta.authors = [tags["author"]]
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    meta.canonical_url = (str(canonical[0]).strip() if canonical else None) or meta.canonical_url or tags.get("og:url")
    if meta.published_at is None:
        meta.published_at = _first_date(tags, tree)
    return meta


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    tags: dict[str, str] = {}
    for element in tree.iter("meta"):
        name = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        content = (element.get("content") or "").strip()
        if name and content and name not in tags:
            tags[name] = content
    return tags


def _first_date(tags: dict[str, str], tree: HtmlElement) -> datetime | None:
    for name in _DATE_META:
        parsed = parse_date(tags.get(name))
        if parsed:
            return parsed
    for value in tree.xpath("//article//time/@datetime|//time[@itemprop='datePublished']/@datetime")[:3]:
        parsed = parse_date(str(value))
        if parsed:
            return parsed
    return None


def _json_ld_articles(tree: HtmlElement) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in tree.xpath("//script[@type='application/ld+json']")[:10]:
        try:
            data = json.loads(script.text or "", strict=False)
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack and len(found) < 5:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item[:20])
            elif isinstance(item, dict):
                types = item.get("@type")
                names = {t.lower() for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}
                if names & _ARTICLE_TYPES:
                    found.append(item)
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"][:20])
    return found


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = [_text(i.get("name")) if isinstance(i, dict) else _text(i) for i in items[:20]]
    return [n for n in names if n]


def _url_of(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id")
    return _text(value)


def _first_text(tree: HtmlElement, xpath: str) -> str | None:
    for element in tree.xpath(xpath)[:1]:
        return " ".join(element.text_content().split()) or None
    return None


def fallback_text(tree: HtmlElement) -> str:
    """Paragraph text of the article body with navigation, share and related blocks removed."""
    for noise in tree.xpath(_NOISE_XPATH):
        parent = noise.getparent()
        if parent is not None:
            parent.remove(noise)
    roots = tree.xpath("//*[@itemprop='articleBody']|//article") or tree.xpath("//body") or [tree]
    paragraphs = [" ".join(p.text_content().split()) for p in roots[0].iter("p", "blockquote", "h2", "h3")]
    if not any(paragraphs):
        paragraphs = [" ".join(line.split()) for line in roots[0].text_content().split("\n")]
    return "\n".join(p for p in paragraphs if p)
