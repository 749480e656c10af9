"""Connectors: steps every connector kind shares — conditional fetch, article records, full-text pages."""

from __future__ import annotations

import hashlib
import logging

from connectors.base import ConnectorContext, PollReport
from connectors.config import RssSource, SitemapSource, WebSource
from connectors.http import FetchError, FetchResult
from connectors.state import Validators
from processors.records import RawArticle
from processors.urls import article_id, canonical_url

log = logging.getLogger(__name__)
AnySource = RssSource | WebSource | SitemapSource
MAX_PAGES_PER_POLL = 100


async def fetch_changed(
    ctx: ConnectorContext, source: AnySource, url: str, report: PollReport, accept: str = "*/*"
) -> FetchResult | None:
    """Conditional GET of ``url``; None when it is unchanged (304, or the same body hash as last time).

    New validators go to ``report.validators``: the runner stores them only after a successful publish.
    """
    old = ctx.state.validators.get(url)
    result = await ctx.fetcher.fetch(
        url,
        allow_private=source.allow_private,
        etag=old.etag if old else None,
        last_modified=old.last_modified if old else None,
        accept=accept,
    )
    report.http_status = result.status
    if result.not_modified:
        return None
    report.last_modified = result.last_modified
    body_hash = hashlib.sha256(result.body).hexdigest()
    fresh = Validators(etag=result.etag, last_modified=result.last_modified, body_hash=body_hash)
    if old is not None and old.body_hash == body_hash:
        ctx.state.validators[url] = fresh  # same content already handled: only the validators moved on
        return None
    report.validators[url] = fresh
    return result


def make_article(source: AnySource, url: str, feed_url: str | None, **fields: object) -> RawArticle:
    """A RawArticle for ``url`` with the id and the source fields filled (raises ValueError on a bad URL)."""
    canonical = canonical_url(url)
    return RawArticle(
        id=article_id(canonical),
        url=canonical,
        source=source.id,
        source_name=source.name,
        source_country=source.country,
        language_hint=source.language,
        feed_url=feed_url,
        **fields,  # type: ignore[arg-type]
    )


async def add_page(
    ctx: ConnectorContext, source: AnySource, article: RawArticle, report: PollReport, *, required: bool = False
) -> RawArticle | None:
    """Fetch the article's page: keep its HTML, prefer its canonical link, fill what the feed lacked.

    Returns None when the canonical URL names an article already seen. When the page cannot be fetched, a
    feed article (``required=False``) is kept with the feed's text; an article that is nothing without its page
    (``required=True``: web, sitemap) is left for a later poll (``report.incomplete``), unless robots.txt forbids
    it, which no retry will change.
    """
    if report.pages_fetched >= MAX_PAGES_PER_POLL:
        report.incomplete = report.incomplete or required
        report.errors.append(f"page budget of {MAX_PAGES_PER_POLL} spent: {article.url} left for later")
        return None if required else article
    report.pages_fetched += 1
    try:
        page = await ctx.pages.fetch(article.url, allow_private=source.allow_private, language=source.language)
    except FetchError as exc:
        report.errors.append(f"page {article.url}: {exc}")
        if required and exc.kind != "robots":
            report.incomplete = True
        return None if required else article
    article.html = page.html
    article.encoding = article.encoding or page.encoding
    article.title = article.title or (page.title or "")
    article.published_at = article.published_at or page.published_at
    article.image = article.image or page.image
    article.authors = article.authors or page.authors
    return _prefer_canonical(ctx, article, page.canonical, report)


def _prefer_canonical(
    ctx: ConnectorContext, article: RawArticle, link: str | None, report: PollReport
) -> RawArticle | None:
    if not link:
        return article
    try:
        canonical = canonical_url(link)
    except ValueError:
        return article
    if canonical == article.url:
        return article
    new_id = article_id(canonical)
    if ctx.state.is_seen(new_id):
        return None
    report.aliases[new_id] = article.id
    article.id, article.url = new_id, canonical
    return article
