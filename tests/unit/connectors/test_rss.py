"""RSS/Atom: Arabic feeds in UTF-8, windows-1256 and ISO-8859-6, malformed feeds, refused entities."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from connectors.base import PollReport
from connectors.config import RssSource
from connectors.encoding import declared_encoding, decode_body
from connectors.rss import RssConnector, parse_feed
from processors.records import RawArticle
from processors.urls import article_id
from tests.unit.connectors.conftest import FEEDS, FeedServer, Reply, make_context

TITLE = "غارات جديدة على مواقع في دير الزور شرق سوريا"


def source(url: str, **extra: object) -> RssSource:
    options = {"id": "feed", "name": "اختبار", "type": "rss", "url": url, "allow_private": True, "country": "sy"}
    return RssSource.model_validate(options | extra)


def poll(src: RssSource, ctx=None) -> tuple[list[RawArticle], PollReport]:  # type: ignore[no-untyped-def]
    async def run() -> tuple[list[RawArticle], PollReport]:
        context = ctx or make_context()
        report = PollReport(src.id)
        try:
            articles = [a async for a in RssConnector(src, context).poll(report)]
        finally:
            await context.fetcher.close()
        return articles, report

    return asyncio.run(run())


def test_utf8_rss_entries_fields(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/rss", "rss_utf8.xml", "application/rss+xml; charset=utf-8")
    articles, report = poll(source(url))
    assert report.entries == 3 and report.new_articles == 3 and report.encoding == "utf-8"
    first = articles[0]
    assert first.title == TITLE
    assert first.url == feed_server.url("/news/2024/11/13/deir-ez-zor-strikes")
    assert first.id == article_id(first.url)
    assert first.text and "وأكدت القيادة" in first.text
    assert first.summary and "دير الزور" in first.summary
    assert first.published_at == datetime(2024, 11, 13, 5, 30, tzinfo=UTC)
    assert first.authors == ["مراسل الاختبار"]
    assert first.image == feed_server.url("/img/1.jpg")
    assert first.source_name == "اختبار" and first.source_country == "SY" and first.language_hint == "ar"
    assert articles[1].text is None and articles[1].summary


@pytest.mark.parametrize(
    ("name", "content_type", "encoding"),
    [
        ("atom_utf8.xml", "application/atom+xml", "utf-8"),
        ("atom_windows1256.xml", "application/atom+xml", "cp1256"),  # XML declaration
        ("atom_iso8859_6_undeclared.xml", "application/atom+xml; charset=ISO-8859-6", "iso8859-6"),  # header only
    ],
)
def test_atom_feed(feed_server: FeedServer, name: str, content_type: str, encoding: str) -> None:
    url = feed_server.serve_file("/atom", name, content_type)
    articles, report = poll(source(url))
    assert report.encoding == encoding
    assert articles[0].title == "غارات جديدة على مواقع في دير الزور شرق سوريا"
    assert [a.authors for a in articles] == [["كاتب أتوم"], ["كاتب أتوم"]]
    assert all("#" not in a.url for a in articles)
    assert articles[0].published_at == datetime(2024, 11, 13, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "content_type", "encoding"),
    [
        ("rss_windows1256.xml", "application/rss+xml", "cp1256"),  # XML declaration
        ("rss_iso8859_6.xml", "text/xml", "iso8859-6"),  # XML declaration
        ("rss_windows1256_undeclared.xml", "text/xml; charset=windows-1256", "cp1256"),  # HTTP header only
        ("rss_windows1256_undeclared.xml", "text/xml", "cp1256"),  # nothing declared: detection
    ],
)
def test_arabic_legacy_encodings(feed_server: FeedServer, name: str, content_type: str, encoding: str) -> None:
    url = feed_server.serve_file("/legacy", name, content_type)
    articles, report = poll(source(url))
    assert report.encoding == encoding
    assert articles[0].title == TITLE
    assert articles[2].summary == "وأوضحت القيادة أن هذه الضربات تهدف إلى إضعاف قدرات الجماعات المدعومة."


def test_header_charset_is_trusted_over_the_declaration() -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-6"?><rss>خبر</rss>'.encode("cp1256")
    text, encoding = decode_body(body, "windows-1256")
    assert encoding == "cp1256" and "خبر" in text
    # An unknown header label falls back to the declaration.
    body = '<?xml version="1.0" encoding="ISO-8859-6"?><rss>خبر</rss>'.encode("iso8859_6")
    assert decode_body(body, "x-no-such-charset") == (body.decode("iso8859_6"), "iso8859-6")
    # A header that does not decode strictly (UTF-8 declared, bytes are windows-1256) is not trusted.
    assert decode_body("<p>خبر عاجل من دمشق</p>".encode("cp1256"), "utf-8")[1] == "cp1256"


def test_declared_encoding_in_html_meta() -> None:
    assert declared_encoding(b'<html><head><meta charset="windows-1256">') == "windows-1256"
    assert declared_encoding(b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-6">') == (
        "iso-8859-6"
    )


def test_malformed_feed_yields_good_entries_and_records_the_problem(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/bad", "rss_malformed.xml", "application/rss+xml")
    articles, report = poll(source(url))
    assert report.status == "ok"
    assert [a.title for a in articles][:3][0] == TITLE and len(articles) >= 3
    assert any("malformed feed" in problem for problem in report.errors)


def test_entity_declarations_are_refused() -> None:
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>
<rss version="2.0"><channel><title>&c;</title></channel></rss>"""
    with pytest.raises(ValueError, match="entities"):
        parse_feed(laughs, None, "ar", "http://127.0.0.1/")
    external = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&x;</title><link>http://a.example/1</link></item></channel></rss>"""
    with pytest.raises(ValueError, match="entities"):
        parse_feed(external, None, "ar", "http://127.0.0.1/")


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(ValueError, match="not a feed"):
        parse_feed((FEEDS / "listing.html").read_bytes(), "utf-8", "ar", "http://127.0.0.1/")


def test_seen_articles_are_not_yielded_again(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/rss", "rss_utf8.xml", "application/rss+xml")
    ctx = make_context()
    articles, _ = poll(source(url), ctx)
    ctx.state.mark_seen(articles[0].id)
    ctx2 = make_context()
    ctx2.state = ctx.state
    again, report = poll(source(url), ctx2)
    assert report.entries == 3 and [a.id for a in again] == [a.id for a in articles[1:]]


def test_unchanged_body_without_validators_is_skipped_by_hash(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/rss", "rss_utf8.xml", "application/rss+xml")
    ctx = make_context()
    _, report = poll(source(url), ctx)
    ctx.state.validators.update(report.validators)
    ctx2 = make_context()
    ctx2.state = ctx.state
    articles, second = poll(source(url), ctx2)
    assert articles == [] and second.status == "not_modified"


def test_full_text_page_fetched_with_canonical_and_html(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/rss", "rss_utf8.xml", "application/rss+xml")
    feed_server.route("/robots.txt", Reply(b"User-agent: *\nAllow: /\n"))
    feed_server.serve_file("/news/2024/11/13/deir-ez-zor-strikes", "article_utf8.html", "text/html")
    articles, report = poll(source(url, fetch_full_text=True))
    first = articles[0]
    assert first.html and "<article>" in first.html
    assert report.pages_fetched == 3
    assert sum(1 for e in report.errors if e.startswith("page ")) == 2  # the two pages the server lacks
    assert [a.title for a in articles][1] == "هجوم بطائرة مسيرة على قاعدة الشدادي في ريف الحسكة"
