"""Extraction from real-shaped Arabic pages: boilerplate, related blocks, share widgets, encodings, dates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from processors.errors import Dropped
from processors.extract import ExtractConfig, extract_article
from processors.records import Article, RawArticle
from processors.urls import article_id

PAGES = Path(__file__).parents[2] / "fixtures" / "pages"
NOW = datetime(2024, 10, 1, tzinfo=UTC)
FEED_DATE = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def page_raw(name: str, url: str = "https://news.example.lb/item", **fields: object) -> RawArticle:
    data = (PAGES / name).read_bytes()
    # The connector decodes bytes before publishing; windows-1256 pages arrive here as str with their meta intact.
    html = data.decode("cp1256") if name == "windows1256.html" else data.decode("utf-8")
    return RawArticle(id=article_id(url), url=url, source="test", html=html, published_at=FEED_DATE, **fields)


def extract(name: str, **kwargs: object) -> Article:
    return extract_article(page_raw(name, **kwargs), ExtractConfig(), now=NOW)  # type: ignore[arg-type]


def test_article_with_boilerplate_keeps_every_sentence_and_nothing_else() -> None:
    article = extract("article_boilerplate.html")
    assert article.extraction_method == "trafilatura"
    assert article.text.startswith("غرقت أحياء واسعة من العاصمة اللبنانية")
    assert "وتابع الوزير قائلاً" in article.text  # a real sentence that starts like «تابعونا»
    for junk in ("اقرأ أيضاً", "تابعونا", "واتساب", "مواضيع ذات صلة", "مصرف لبنان يمدد", "الأكثر قراءة", "جميع الحقوق"):
        assert junk not in article.text
    assert len(article.text.split("\n")) == 5
    assert article.title == "انقطاع الكهرباء يعمّ أحياء واسعة في بيروت بعد نفاد الوقود"
    assert article.authors == ["ريم الحسيني"]
    assert article.image == "https://news.example.lb/media/2024/08/beirut-power.jpg"
    assert article.url == "https://news.example.lb/lebanon/2024/08/17/beirut-power-outage"
    assert article.published_at == datetime(2024, 8, 17, 6, 45, tzinfo=UTC)
    assert article.published_at_method == "page"
    assert article.language == "ar" and article.language_score and article.language_score > 0.9


def test_related_block_inside_the_body_is_removed() -> None:
    article = extract("related_inline.html")
    assert "عام على زلزال الحوز: إعادة الإعمار" not in article.text
    assert "الدفعة الأخيرة من الدعم" not in article.text
    assert "شهادات من دواوير" not in article.text
    assert "وشارك في عمليات الإغاثة متطوعون" in article.text  # «شارك» inside a sentence stays
    assert "رقم 2030" in article.text
    assert article.title == "أمطار غزيرة تقطع طرقاً في إقليم الحوز"  # site name dropped
    assert article.authors == ["يوسف بنعلي"]
    assert article.published_at == datetime(2024, 9, 8, 16, 20, tzinfo=UTC)


def test_json_ld_graph_gives_date_with_offset_authors_image_and_relative_canonical() -> None:
    article = extract("jsonld_graph.html", url="https://nile.example.sd/?p=991")
    assert article.published_at == datetime(2024, 6, 2, 5, 30, tzinfo=UTC)
    assert article.authors == ["محمد عثمان", "سارة الطيب"]
    assert article.image == "https://nile.example.sd/img/fasher-1.jpg"
    assert article.url.startswith("https://nile.example.sd/sudan/2024/06/02/el-fasher-displacement")
    assert article.text.count("\n") == 3


def test_canonical_link_to_another_site_is_ignored() -> None:
    article = extract("article_boilerplate.html", url="https://mirror.example.com/copy/1")
    assert article.url == "https://mirror.example.com/copy/1"
    assert article.id == article_id("https://mirror.example.com/copy/1")


def test_the_article_id_follows_the_canonical_url() -> None:
    """Two feed links to one page (a tracking variant, a section path) are one article, found by its id."""
    first = extract("article_boilerplate.html", url="https://news.example.lb/item?from=rss")
    second = extract("article_boilerplate.html", url="https://news.example.lb/lebanon/latest/2291")
    canonical = "https://news.example.lb/lebanon/2024/08/17/beirut-power-outage"
    assert first.url == second.url == canonical
    assert first.id == second.id == article_id(canonical)
    chosen = page_raw("article_boilerplate.html").model_copy(update={"id": "ab" * 32})  # a producer's own id
    assert extract_article(chosen, ExtractConfig(), now=NOW).id == "ab" * 32


def test_windows_1256_page_with_layout_tables() -> None:
    article = extract("windows1256.html")
    assert article.text.startswith("افتتحت السلطات العراقية والأردنية")
    assert "الرئيسية" not in article.text and "|" not in article.text
    assert article.published_at == datetime(2023, 5, 21, 13, 40, tzinfo=UTC)
    assert article.title == "العراق: افتتاح معبر حدودي جديد مع الأردن"


def test_page_without_text_is_dropped_unless_the_feed_has_text() -> None:
    with pytest.raises(Dropped) as dropped:
        extract("no_text.html")
    assert dropped.value.reason == "too_short"
    summary = "<p>وصلت قافلة مساعدات تضم عشرين شاحنة إلى معبر رفح صباح اليوم، محمّلة بالطحين والأدوية والمياه.</p>"
    article = extract(
        "no_text.html", summary=summary + "<p>وقال مسؤول في الهلال الأحمر إن القافلة ستتوجه إلى المستودعات.</p>"
    )
    assert article.extraction_method == "feed"
    assert article.text.startswith("وصلت قافلة مساعدات") and "<p>" not in article.text
    assert "trafilatura_short" in article.warnings or "trafilatura_empty" in article.warnings
    assert article.title == "فيديو: لحظة وصول القافلة"


def test_future_page_date_falls_back_to_the_feed_date() -> None:
    article = extract("future_date.html")
    assert article.published_at == FEED_DATE
    assert article.published_at_method == "feed"
    assert "page_date_rejected" in article.warnings


def test_egyptian_arabic_counts_as_arabic() -> None:
    article = extract("egyptian.html")
    assert article.language == "ar"


def test_english_page_is_dropped_or_tagged_by_configuration() -> None:
    with pytest.raises(Dropped) as dropped:
        extract("english.html")
    assert dropped.value.reason == "not_arabic"
    kept = extract_article(page_raw("english.html"), ExtractConfig(keep_non_arabic=True), now=NOW)
    assert kept.language == "en"
    assert kept.text.startswith("A convoy of fourteen trucks")


@pytest.mark.parametrize("failure", ["nothing", "raises"])
def test_own_paragraph_extractor_when_trafilatura_yields_nothing(monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    import trafilatura

    def broken(*args: object, **kwargs: object) -> None:
        if failure == "raises":
            raise RuntimeError("simulated trafilatura bug")
        return None

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    article = extract("article_boilerplate.html")
    assert article.extraction_method == "fallback"
    assert article.text.startswith("غرقت أحياء واسعة")
    assert "مصرف لبنان يمدد" not in article.text and "واتساب" not in article.text
    assert ("trafilatura_failed" in article.warnings) == (failure == "raises")
    assert article.published_at_method == "page"  # metadata does not depend on trafilatura
