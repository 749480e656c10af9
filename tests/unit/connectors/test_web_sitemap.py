"""web and sitemap connectors: listing pages and link patterns, article pages, robots.txt, sitemaps."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import ConnectorContext, PollReport
from connectors.config import SitemapSource, WebSource
from connectors.http import FetchError
from connectors.pages import PageFetcher
from connectors.sitemap import SitemapConnector, SitemapEntry, parse_sitemap, recent
from connectors.web import WebConnector
from processors.records import RawArticle
from processors.urls import article_id
from tests.unit.connectors.conftest import FEEDS, FeedServer, Reply, make_context, recent_dates

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def serve_site(server: FeedServer) -> None:
    server.route("/robots.txt", Reply(ROBOTS, headers={"Content-Type": "text/plain"}))
    server.serve_file("/latest", "listing.html", "text/html; charset=utf-8", etag='"l1"')
    server.serve_file("/news/2024/11/13/deir-ez-zor-strikes", "article_utf8.html", "text/html; charset=utf-8")
    server.serve_file("/news/2024/11/13/shaddadi-drone", "article_windows1256.html", "text/html")
    server.route("/private/2024/secret-page", Reply(b"<html>secret</html>"))


def web_source(server: FeedServer) -> WebSource:
    return WebSource.model_validate(
        {
            "id": "site",
            "name": "موقع",
            "type": "web",
            "urls": [server.url("/latest")],
            "link_patterns": [r"/news/\d{4}/\d{2}/\d{2}/", r"/private/\d{4}/"],
            "allow_private": True,
        }
    )


def poll(connector_type: type, src: object, ctx: ConnectorContext | None = None) -> tuple[list[RawArticle], PollReport]:
    async def run() -> tuple[list[RawArticle], PollReport]:
        context = ctx or make_context()
        context.pages = PageFetcher(context.fetcher)
        report = PollReport("x")
        try:
            articles = [a async for a in connector_type(src, context).poll(report)]
        finally:
            await context.fetcher.close()
        return articles, report

    return asyncio.run(run())


def test_web_listing_finds_article_pages_and_respects_robots(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    articles, report = poll(WebConnector, web_source(feed_server))
    assert report.entries == 3  # two articles (one linked twice) and the private page
    assert [a.title for a in articles] == ["غارات جديدة على مواقع في دير الزور", "هجوم بطائرة مسيرة على قاعدة الشدادي"]
    assert feed_server.hits["/private/2024/secret-page"] == 0
    assert any("robots.txt disallows" in e for e in report.errors)
    assert not report.incomplete, "a robots refusal is final, not a reason to refetch the listing"
    first, second = articles
    assert first.html and "<article>" in first.html
    assert first.published_at == datetime(2024, 11, 13, 5, 30, tzinfo=UTC)
    assert first.image == feed_server.url("/img/deir-ez-zor-strikes.jpg")
    assert first.authors == ["مراسل الاختبار"]
    assert second.encoding == "cp1256" and second.html and "الشدادي" in second.html
    assert first.id == article_id(feed_server.url("/news/2024/11/13/deir-ez-zor-strikes"))


def test_web_listing_page_disallowed_by_robots_is_never_fetched(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    feed_server.route("/private/latest", Reply(b"<html><a href='/news/2024/11/13/x'>x</a></html>"))
    source = web_source(feed_server).model_copy(update={"urls": [feed_server.url("/private/latest")]})
    with pytest.raises(FetchError, match=r"robots\.txt disallows"):
        poll(WebConnector, source)
    assert feed_server.hits["/private/latest"] == 0


def test_web_listing_unchanged_is_not_modified(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    ctx = make_context()
    _, report = poll(WebConnector, web_source(feed_server), ctx)
    ctx.state.validators.update(report.validators)
    again, second = poll(WebConnector, web_source(feed_server), make_context_with(ctx))
    assert again == [] and second.status == "not_modified"


def make_context_with(previous: ConnectorContext) -> ConnectorContext:
    ctx = make_context()
    ctx.state = previous.state
    return ctx


def test_web_failed_page_leaves_the_listing_for_the_next_poll(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    feed_server.route("/news/2024/11/13/shaddadi-drone", Reply(b"down", status=503))
    articles, report = poll(WebConnector, web_source(feed_server))
    assert len(articles) == 1 and report.incomplete


def test_canonical_link_replaces_the_listing_url(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    feed_server.route(
        "/latest",
        Reply(b'<a href="/news/2024/11/13/deir-ez-zor-strikes/amp">amp</a>', headers={"Content-Type": "text/html"}),
    )
    feed_server.serve_file("/news/2024/11/13/deir-ez-zor-strikes/amp", "article_utf8.html", "text/html")
    articles, report = poll(WebConnector, web_source(feed_server))
    assert articles[0].url == feed_server.url("/news/2024/11/13/deir-ez-zor-strikes")
    assert report.aliases[articles[0].id] == article_id(feed_server.url("/news/2024/11/13/deir-ez-zor-strikes/amp"))


def sitemap_source(server: FeedServer, path: str, **extra: object) -> SitemapSource:
    options = {"id": "maps", "name": "خرائط", "type": "sitemap", "url": server.url(path), "allow_private": True}
    return SitemapSource.model_validate(options | extra)


def test_google_news_sitemap(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    feed_server.route("/news-sitemap.xml", Reply(feed_server.fixture("sitemap_news.xml", **recent_dates())))
    articles, report = poll(SitemapConnector, sitemap_source(feed_server, "/news-sitemap.xml"))
    assert report.entries == 2, "the 30-day-old entry is past max_age_days"
    titles = {a.title for a in articles}
    assert "غارات جديدة على مواقع في دير الزور" in titles
    assert all(a.html for a in articles)
    news = next(a for a in articles if "deir" in a.url)
    assert news.image == feed_server.url("/img/1.jpg")
    assert news.published_at and news.published_at > datetime.now(UTC) - timedelta(hours=2)
    assert feed_server.hits["/news/2024/10/01/old-story"] == 0


def test_sitemap_index_reads_recent_children_only(feed_server: FeedServer) -> None:
    serve_site(feed_server)
    dates = recent_dates()
    feed_server.route("/sitemap.xml", Reply(feed_server.fixture("sitemap_index.xml", **dates), etag='"i1"'))
    feed_server.route("/sitemaps/news.xml", Reply(gzip.compress(feed_server.fixture("sitemap_news.xml", **dates))))
    feed_server.route("/sitemaps/archive-2019.xml", Reply(b"<urlset/>"))
    ctx = make_context()
    articles, report = poll(SitemapConnector, sitemap_source(feed_server, "/sitemap.xml", fetch_full_text=False), ctx)
    assert len(articles) == 2 and all(a.html is None for a in articles)
    assert feed_server.hits["/sitemaps/archive-2019.xml"] == 0
    # The index is unchanged (304) but its children are still checked.
    ctx.state.validators.update(report.validators)
    for article in articles:
        ctx.state.mark_seen(article.id)
    again, second = poll(SitemapConnector, sitemap_source(feed_server, "/sitemap.xml"), make_context_with(ctx))
    assert again == [] and second.status == "not_modified"
    assert feed_server.hits["/sitemaps/news.xml"] == 2


def test_sitemap_with_entities_is_refused() -> None:
    laughs = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/&b;</loc></url></urlset>"""
    with pytest.raises(ValueError, match="not safe"):
        parse_sitemap(laughs, 1_000_000)


def test_sitemap_gzip_bomb_is_capped() -> None:
    from connectors.http import FetchError

    with pytest.raises(FetchError, match="decompressed"):
        parse_sitemap(gzip.compress(b" " * 5_000_000), 1_000_000)


def test_not_a_sitemap() -> None:
    with pytest.raises(ValueError, match="not a sitemap"):
        parse_sitemap(b"<rss version='2.0'/>", 1000)


def test_recent_orders_newest_first_and_keeps_undated() -> None:
    now = datetime(2024, 11, 13, tzinfo=UTC)
    entries = [
        SitemapEntry("https://a.example/old", lastmod=now - timedelta(days=10)),
        SitemapEntry("https://a.example/undated"),
        SitemapEntry("https://a.example/new", published_at=now - timedelta(hours=1)),
        SitemapEntry("https://a.example/mid", lastmod=now - timedelta(days=1)),
    ]
    assert [e.loc.rsplit("/", 1)[1] for e in recent(entries, 3, now)] == ["new", "mid", "undated"]


def news_sitemap_in(encoding: str, server_base: str, declare: bool) -> bytes:
    """The news sitemap fixture re-encoded (Arabic titles included), with or without its XML declaration."""
    text = (FEEDS / "sitemap_news.xml").read_text(encoding="utf-8").replace("{BASE}", server_base)
    text = text.replace("{NOW}", recent_dates()["NOW"]).replace("{OLD}", recent_dates()["OLD"])
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else ""
    return (declaration + text.split("?>", 1)[1]).encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "header", "declare"),
    [("windows-1256", "application/xml; charset=windows-1256", False), ("iso-8859-6", "application/xml", True)],
)
def test_sitemap_in_an_arabic_code_page_keeps_its_titles(
    feed_server: FeedServer, encoding: str, header: str, declare: bool
) -> None:
    body = news_sitemap_in(encoding, feed_server.base, declare)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the bytes really are single-byte Arabic
    feed_server.route("/cp.xml", Reply(body, headers={"Content-Type": header}))
    articles, report = poll(SitemapConnector, sitemap_source(feed_server, "/cp.xml", fetch_full_text=False))
    assert "غارات جديدة على مواقع في دير الزور" in {a.title for a in articles}, report.errors


def test_sitemap_index_of_indexes_is_followed(feed_server: FeedServer) -> None:
    dates = recent_dates()
    outer = f"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{feed_server.url("/sitemaps/2024.xml")}</loc><lastmod>{dates["NOW"]}</lastmod></sitemap></sitemapindex>"""
    feed_server.route("/sitemap.xml", Reply(outer.encode()))
    feed_server.route("/sitemaps/2024.xml", Reply(feed_server.fixture("sitemap_index.xml", **dates)))
    feed_server.route("/sitemaps/news.xml", Reply(feed_server.fixture("sitemap_news.xml", **dates)))
    feed_server.route("/sitemaps/archive-2019.xml", Reply(b"<urlset/>"))
    articles, report = poll(SitemapConnector, sitemap_source(feed_server, "/sitemap.xml", fetch_full_text=False))
    assert len(articles) == 2, report.errors
    assert feed_server.hits["/sitemaps/archive-2019.xml"] == 0
