"""Page metadata: date formats, JSON-LD shapes, meta-tag fallbacks, and the fallback text extractor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import html as lxml_html

from processors.pagemeta import fallback_text, parse_date, read_page_meta


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-08-17T09:45:00+03:00", datetime(2024, 8, 17, 6, 45, tzinfo=UTC)),
        ("2024-08-17T09:45:00Z", datetime(2024, 8, 17, 9, 45, tzinfo=UTC)),
        ("2024-08-17", datetime(2024, 8, 17, tzinfo=UTC)),
        ("Sat, 17 Aug 2024 09:45:00 GMT", datetime(2024, 8, 17, 9, 45, tzinfo=UTC)),
        ("2024/8/17 9:45", datetime(2024, 8, 17, 9, 45, tzinfo=UTC)),
        ("نشر في 2024-08-17 الساعة", datetime(2024, 8, 17, tzinfo=UTC)),
    ],
)
def test_parse_date_formats(value: str, expected: datetime) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", [None, "", "غداً", "2024-13-45", 20240817, "9" * 100])
def test_parse_date_rejects_junk(value: object) -> None:
    assert parse_date(value) is None


def page(head: str, body: str = "") -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_json_ld_wins_over_meta_tags_and_bad_json_is_skipped() -> None:
    tree = page(
        '<script type="application/ld+json">{not json</script>'
        '<script type="application/ld+json">{"@type": "ReportageNewsArticle", "datePublished": "2024-01-02T03:04:05Z",'
        ' "author": "وكالة الأنباء", "headline": "عنوان"}</script>'
        '<meta property="article:published_time" content="2023-01-01T00:00:00Z">'
    )
    meta = read_page_meta(tree)
    assert meta.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert meta.authors == ["وكالة الأنباء"] and meta.title == "عنوان"


def test_meta_tags_and_time_element() -> None:
    meta = read_page_meta(page('<meta name="author" content="سارة"><meta property="og:title" content="خبر">'))
    assert meta.authors == ["سارة"] and meta.title == "خبر" and meta.published_at is None
    timed = read_page_meta(page("<title>ع</title>", '<article><time datetime="2024-05-06T07:08:00+02:00">'))
    assert timed.published_at == datetime(2024, 5, 6, 5, 8, tzinfo=UTC)
    assert timed.title == "ع"


def test_fallback_text_drops_navigation_and_share_blocks() -> None:
    tree = page(
        "",
        "<nav><p>الرئيسية</p></nav><div class='share-tools'><p>شارك</p></div>"
        "<article><p>الفقرة الأولى من الخبر.</p><p>الفقرة الثانية.</p></article><footer><p>حقوق</p></footer>",
    )
    assert fallback_text(tree) == "الفقرة الأولى من الخبر.\nالفقرة الثانية."
