"""Property tests on hostile text (issue 8): what the processors' own property tests do not already cover.

- normalize_arabic: idempotent on any text; no tashkeel, tatweel, bidi or zero-width mark survives.
- Deduplicator.check: a worker restarted over the same store (the recovered Faust table) gives every redelivered
  article its first decision again, in any order.
- extract_article: titles and texts never keep markup, control, bidi or zero-width characters.
- Enricher.enrich: never raises; every entity, event and date offset is in range and slices to its own text.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.corpus import sentences
from processors.dedup import Deduplicator
from processors.enrich import Enricher
from processors.errors import Dropped, PermanentError
from processors.extract import ExtractConfig, extract_article, text_hash
from processors.normalize import normalize_arabic
from processors.records import Article, DedupInfo, RawArticle
from processors.urls import article_id

TASHKEEL = "".join(chr(c) for c in range(0x064B, 0x0660)) + "\u0670"
INVISIBLE = "\u0640\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
DISPLAY_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\ufeff]")
POOL = sentences()[:40]
WORDS = sorted({word for sentence in POOL for word in sentence.split()})[:400]

hostile_chars = st.sampled_from(
    [*TASHKEEL, *INVISIBLE, "\x00", "\x1b", "\u2028", "\ufdfa", "\ufefb", "ـــ", "٣", "۴", "İ", "ﷲ", "\U0001f600"]
)
arabic_words = st.sampled_from(WORDS)
markup = st.sampled_from(["<script>alert(1)</script>", "<b>", "</b>", "&lt;i&gt;", "&amp;", "<p>", "<!-- x -->"])
hostile_text = st.lists(st.one_of(arabic_words, hostile_chars, markup, st.text(max_size=5)), max_size=150).map(" ".join)
any_text = st.one_of(st.text(), hostile_text)


# -- normalize_arabic ---------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(any_text)
def test_normalisation_is_idempotent_and_leaves_no_marks(text: str) -> None:
    once = normalize_arabic(text)
    assert normalize_arabic(once) == once
    assert not set(once) & set(TASHKEEL + INVISIBLE)
    assert not set(once) & set("أإآٱىة")
    assert once == once.strip() and "  " not in once


# -- Deduplicator.check under redelivery after a restart ---------------------------------------------------------
def dedup_article(slug: str, chosen: list[int]) -> Article:
    url = f"https://dedup.example/{slug}"
    text = "\n".join(POOL[i] for i in chosen)
    moment = datetime(2024, 11, 13, tzinfo=UTC)
    return Article(id=article_id(url), url=url, source=f"s{slug}", title=POOL[chosen[0]][:60], text=text,
                   language="ar", published_at=moment, published_at_method="feed", fetched_at=moment,
                   extraction_method="text", text_hash=text_hash(text))  # fmt: skip


# overlapping sentence subsets: exact copies, near-duplicates and unrelated articles all occur
streams = st.lists(
    st.tuples(st.integers(0, 12), st.lists(st.integers(0, 11), min_size=3, max_size=6, unique=True)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.randoms(use_true_random=False))
def test_dedup_decisions_survive_a_restart_and_any_redelivery_order(
    stream: list[tuple[int, list[int]]], rnd: random.Random
) -> None:
    store: dict[str, Any] = {}
    first: dict[str, DedupInfo] = {}
    articles = [dedup_article(str(slug), chosen) for slug, chosen in stream]
    worker = Deduplicator(store)
    for article in articles:
        first.setdefault(article.id, worker.check(article))

    restarted = Deduplicator(store)  # a new worker over the recovered table
    restarted.rebuild_index()
    redelivered = articles[:]
    rnd.shuffle(redelivered)
    for article in redelivered:
        assert restarted.check(article) == first[article.id]
    assert all(info.duplicate_of != article_id for article_id, info in first.items())


# -- extract_article: display text is clean ----------------------------------------------------------------------
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=hostile_text, body=hostile_text, as_html=st.booleans())
def test_extracted_title_and_text_hold_no_markup_controls_or_bidi(title: str, body: str, as_html: bool) -> None:
    url = "https://hostile.example/p"
    text = "\n".join(POOL[:3]) + "\n" + body
    fields = {"html": f"<html><head><title>{title}</title></head><body><article><p>{text}</p></article></body></html>"}
    raw = RawArticle.model_validate(
        {"id": article_id(url), "url": url, "source": "s", "title": title, **(fields if as_html else {"text": text})}
    )
    try:
        article = extract_article(raw, ExtractConfig())
    except Dropped as drop:
        assert drop.reason in {"empty", "too_short", "not_arabic"}
        return
    except PermanentError as error:
        pytest.fail(f"a valid record was refused: {error.reason}")
    for value in (article.title, article.text):
        assert not DISPLAY_FORBIDDEN.search(value), repr(value[:200])
        assert "<script" not in value.lower()


# -- Enricher.enrich ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def enrich_article(title: str, text: str) -> Article:
    moment = datetime(2024, 11, 13, tzinfo=UTC)
    return Article(id="e" * 64, url="https://e.example/1", source="s", title=title, text=text, language="ar",
                   published_at=moment, published_at_method="feed", fetched_at=moment, extraction_method="text",
                   text_hash=text_hash(text))  # fmt: skip


real_text = st.lists(st.sampled_from(POOL), min_size=0, max_size=6).map("\n".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.one_of(hostile_text, real_text), text=st.one_of(hostile_text, real_text, st.text()))
def test_enrichment_never_raises_and_every_offset_slices_its_own_text(
    enricher: Enricher, title: str, text: str
) -> None:
    article = enrich_article(title, text)
    enriched = enricher.enrich(article)
    assert (enriched.id, enriched.title, enriched.text) == (article.id, title, text)
    fields = {"title": title, "text": text}
    spans = [(e.field, e.start, e.end, e.text) for e in enriched.entities]
    spans += [(e.field, e.start, e.end, e.trigger) for e in enriched.events]
    spans += [(d.field, d.start, d.end, d.text) for d in enriched.dates]
    for field, start, end, surface in spans:
        assert 0 <= start < end <= len(fields[field]), (field, start, end)
        assert fields[field][start:end] == surface
    assert len(enriched.entities) + len(enriched.events) + len(enriched.dates) <= len(title) + len(text)
    for count in (enriched.casualties.killed, enriched.casualties.injured):
        assert count is None or count >= 0
    for place in enriched.places:
        assert place.name
        assert place.lat is None or -90 <= place.lat <= 90
        assert place.lon is None or -180 <= place.lon <= 180
    for date in enriched.dates:
        datetime.strptime(date.value, "%Y-%m-%d")
    enriched.to_json()


_SPACES_AND_MARKS = [" ", "  ", "\t", "\u00a0", "\u2003", "\u3000", "\u202f", "\n", "\r\n", "\u2028", "\u200f", "\x00"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_SPACES_AND_MARKS, "a", "ب", "كلمة", "x y"]), max_size=20).map("".join))
def test_clean_text_equals_folding_every_inline_space(value: str) -> None:
    """The fast path (nothing to fold) gives what the substitution over every inline space gives."""
    from processors.extract import _INLINE_SPACE, clean_chars, clean_text

    folded = _INLINE_SPACE.sub(" ", clean_chars(value).replace("\u2028", "\n").replace("\u2029", "\n"))
    assert clean_text(value) == "\n".join(s for line in folded.split("\n") if (s := line.strip()))
