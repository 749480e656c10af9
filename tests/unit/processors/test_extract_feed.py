"""Extraction from feed entries and plain text: markup, dates, limits, drops, and the no-escape property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.errors import Dropped, PermanentError
from processors.extract import ExtractConfig, extract_article, strip_markup, text_hash
from processors.limits import LUCENE_MAX_TERM_BYTES
from processors.normalize import normalize_arabic
from processors.records import RawArticle
from processors.urls import article_id

NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
URL = "https://sana.example.sy/news/123"
SENTENCES = (
    "قالت وزارة الداخلية السورية إن وحدات الهندسة فككت عبوة ناسفة زرعت على طريق دمشق درعا الدولي صباح اليوم.",
    "وأضافت الوزارة في بيان أن العبوة كانت معدة للتفجير عن بعد، وأن حركة السير عادت إلى طبيعتها بعد ساعتين.",
    "ولم تعلن أي جهة مسؤوليتها عن زرع العبوة، في حين تشهد محافظة درعا توتراً أمنياً متكرراً منذ أشهر.",
)
TEXT = "\n".join(SENTENCES)


def raw(**fields: object) -> RawArticle:
    base: dict[str, object] = {"id": article_id(URL), "url": URL, "source": "sana", "title": "تفكيك عبوة ناسفة"}
    return RawArticle(**(base | fields))  # type: ignore[arg-type]


def extract(config: ExtractConfig | None = None, **fields: object) -> object:
    return extract_article(raw(**fields), config or ExtractConfig(), now=NOW)


def test_plain_text_is_kept_as_given() -> None:
    article = extract_article(raw(text=TEXT), ExtractConfig(), now=NOW)
    assert article.text == TEXT
    assert article.extraction_method == "text"
    assert article.title == "تفكيك عبوة ناسفة"
    assert article.text_hash == text_hash(TEXT)
    assert not article.truncated


def test_feed_markup_and_entities_are_removed_with_paragraphs_kept() -> None:
    html = "".join(f"<p>{s}</p>" for s in SENTENCES) + "<script>var x = 1;</script><img src='a.jpg'/>"
    article = extract_article(raw(text=html.replace("،", "&#1548;")), ExtractConfig(), now=NOW)
    assert article.text == TEXT
    assert article.extraction_method == "feed"


def test_double_escaped_feed_html() -> None:
    assert strip_markup("&lt;p&gt;غزة &amp;amp; رفح&lt;/p&gt;").strip() == "غزة & رفح"
    assert strip_markup("&amp;lt;b&amp;gt;خبر&amp;lt;/b&amp;gt;").strip() == "خبر"


def test_summary_used_when_there_is_no_text() -> None:
    article = extract_article(raw(summary=TEXT), ExtractConfig(), now=NOW)
    assert article.extraction_method == "feed" and article.text == TEXT


def test_title_markup_and_missing_title() -> None:
    article = extract_article(raw(text=TEXT, title="<b>عاجل:</b> تفكيك &quot;عبوة&quot;"), ExtractConfig(), now=NOW)
    assert article.title == 'عاجل: تفكيك "عبوة"'
    untitled = extract_article(raw(text=TEXT, title=""), ExtractConfig(), now=NOW)
    assert untitled.title == SENTENCES[0]
    assert "title_from_text" in untitled.warnings


def test_text_hash_ignores_diacritics_and_hamza_forms() -> None:
    assert text_hash("أعلنَت الوزارةُ") == text_hash("اعلنت الوزاره")
    assert text_hash("غزة") != text_hash("رفح")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"text": "   "}, "empty"),
        ({}, "empty"),
        ({"text": "خبر قصير جداً."}, "too_short"),
        ({"text": "The ministry said the device was dismantled on the highway this morning. " * 3}, "not_arabic"),
        ({"text": "<p>اقرأ أيضاً: خبر آخر</p><p>تابعونا على تلغرام</p>"}, "empty"),
    ],
)
def test_expected_drops(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(Dropped) as dropped:
        extract_article(raw(**fields), ExtractConfig(), now=NOW)
    assert dropped.value.reason == reason
    assert dropped.value.stage == "extract"


def test_persian_is_not_arabic() -> None:
    persian = "وزارت امور خارجه ایران روز دوشنبه اعلام کرد که گفتگوهای هسته‌ای با کشورهای اروپایی ادامه خواهد یافت. " * 2
    with pytest.raises(Dropped, match="not_arabic"):
        extract_article(raw(text=persian), ExtractConfig(), now=NOW)
    kept = extract_article(raw(text=persian), ExtractConfig(keep_non_arabic=True), now=NOW)
    assert kept.language == "fa"


@pytest.mark.parametrize(("fields", "reason"), [({"id": "abc"}, "bad_id"), ({"url": "ftp://x/y"}, "bad_url")])
def test_permanent_errors(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(PermanentError) as error:
        extract_article(raw(text=TEXT, **fields), ExtractConfig(), now=NOW)
    assert error.value.reason.startswith(reason)
    assert error.value.stage == "extract"


def test_published_at_order_and_rejections() -> None:
    feed_date = datetime(2024, 9, 30, 7, 0, tzinfo=UTC)
    fetched = datetime(2024, 10, 1, 11, 0, tzinfo=UTC)
    article = extract_article(raw(text=TEXT, published_at=feed_date, fetched_at=fetched), ExtractConfig(), now=NOW)
    assert (article.published_at, article.published_at_method) == (feed_date, "feed")
    for bad in (NOW + timedelta(days=2), datetime(1985, 1, 1, tzinfo=UTC)):
        fallback = extract_article(raw(text=TEXT, published_at=bad, fetched_at=fetched), ExtractConfig(), now=NOW)
        assert (fallback.published_at, fallback.published_at_method) == (fetched, "fetch_time")
        assert "feed_date_rejected" in fallback.warnings
    tomorrow = NOW + timedelta(hours=20)  # within the one-day tolerance (time zones, clock skew)
    assert extract_article(raw(text=TEXT, published_at=tomorrow), ExtractConfig(), now=NOW).published_at == tomorrow


def test_naive_dates_are_taken_as_utc() -> None:
    article = extract_article(raw(text=TEXT, published_at=datetime(2024, 9, 1, 10, 0)), ExtractConfig(), now=NOW)
    assert article.published_at == datetime(2024, 9, 1, 10, 0, tzinfo=UTC)


def test_limits_truncate_text_titles_and_drop_immense_terms() -> None:
    long_text = "\n".join([TEXT] * 400) + " " + "ب" * 40_000
    config = ExtractConfig(max_text_chars=5_000, max_title_chars=50)
    article = extract_article(raw(text=long_text, title="عنوان " * 100), config, now=NOW)
    assert article.truncated and len(article.text) <= 5_000
    assert article.text.endswith(".")  # cut at a sentence or line boundary
    assert len(article.title) <= 50 and article.title.endswith("…")
    blob = TEXT + " " + "x" * 50_000
    cleaned = extract_article(raw(text=blob), ExtractConfig(), now=NOW)
    assert "xxxx" not in cleaned.text and "long_runs_dropped" in cleaned.warnings


arabic_words = st.sampled_from(["غزة", "قال", "الوزير", "إن", "الحكومة", "مُحَمَّد", "٢٠٢٤", "في", "بيروت", "،", "."])
texts = st.one_of(
    st.text(max_size=300),
    st.lists(arabic_words, min_size=0, max_size=120).map(" ".join),
    st.lists(
        st.sampled_from(["<p>", "</p>", "&amp;", "&#1548;", "<br>", "غزة", "اقرأ أيضاً", "\n", "<"]), max_size=80
    ).map("".join),
)
dates = st.one_of(st.none(), st.datetimes(timezones=st.sampled_from([UTC, None])))  # type: ignore[list-item]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(st.none(), texts),
    summary=st.one_of(st.none(), texts),
    html=st.one_of(st.none(), texts, texts.map(lambda t: f"<html><body><article><p>{t}</p></article></body></html>")),
    title=st.text(max_size=200),
    published_at=dates,
    fetched_at=st.datetimes(timezones=st.sampled_from([UTC, None])),  # type: ignore[list-item]
    keep=st.booleans(),
)
def test_no_exception_escapes_and_invariants_hold(
    text: str | None,
    summary: str | None,
    html: str | None,
    title: str,
    published_at: datetime | None,
    fetched_at: datetime,
    keep: bool,
) -> None:
    config = ExtractConfig(keep_non_arabic=keep, max_text_chars=2_000, max_title_chars=100)
    item = raw(text=text, summary=summary, html=html, title=title, published_at=published_at, fetched_at=fetched_at)
    try:
        article = extract_article(item, config, now=NOW)
    except Dropped as dropped:
        assert dropped.reason in {"empty", "too_short", "not_arabic"}
        return
    except PermanentError as error:
        pytest.fail(f"valid raw article rejected as permanent: {error.reason}")
    assert config.min_text_chars <= len(article.text) <= config.max_text_chars
    assert len(article.title) <= config.max_title_chars + 1 and article.title.strip()
    assert len(article.title.encode("utf-8")) <= LUCENE_MAX_TERM_BYTES
    assert max(len(token) for token in article.text.split()) <= config.max_token_chars
    assert datetime(1990, 1, 1, tzinfo=UTC) <= article.published_at <= NOW + timedelta(days=1)
    assert article.published_at.tzinfo is not None
    assert article.text_hash == text_hash(article.text)
    assert article.language == "ar" or keep
    assert normalize_arabic(article.text)  # never only invisible characters
    article.to_json()  # serialisable
