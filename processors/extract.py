"""Extraction stage: turn a `news.raw.v1` record into a `news.articles.v1` record (text, metadata, language).

Text: from `raw.html` via trafilatura (`extraction_method="trafilatura"`); when it yields nothing or fewer than
`min_text_chars`, the longest of our own paragraph extractor (`"fallback"`) and the connector's text/summary.
Without HTML: `raw.text`, else `raw.summary`, with markup and entities removed (`"feed"` when markup was
removed, `"text"` when it was plain). Boilerplate lines are removed, overlong runs dropped and lengths bounded
(`truncated`). Dates: page metadata, then the feed's date, then fetch time (`published_at_method` = `page` |
`feed` | `fetch_time`); dates more than a day in the future or before 1990 are rejected with a warning.

Outcomes: an `Article`; `Dropped(reason)` for expected drops (`empty`, `too_short`, `not_arabic`);
`PermanentError(reason, stage="extract")` for input that can never work. Nothing else escapes.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

from processors.boilerplate import remove_boilerplate
from processors.errors import Dropped, PermanentError
from processors.language import LanguageDetector, LanguageGuess, default_detector
from processors.limits import bound_title, bound_url, break_long_runs, truncate_text, truncate_utf8
from processors.normalize import normalize_arabic
from processors.pagemeta import PageMeta, fallback_text, read_page_meta
from processors.records import Article, RawArticle
from processors.urls import article_id

STAGE = "extract"
_ID = re.compile(r"[0-9a-f]{64}")
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#\d{1,7}|#x[0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_DROP_ELEMENTS = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|tr|table|blockquote|section|article)\b[^>]{0,2000}>", re.I
)
_TAG = re.compile(r"<[^<>]{0,2000}>")
# Also bidi embeddings, overrides and isolates, zero-width space and BOM: left unbalanced in a title they reverse
# or hide whatever is displayed after them (search keys drop them anyway; LRM/RLM, ZWJ and ZWNJ are kept).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u200b\ufeff]")
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " « ")
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExtractConfig:
    keep_non_arabic: bool = False  # False: non-Arabic raises Dropped("not_arabic"); True: kept, tagged
    min_text_chars: int = 80  # shorter text raises Dropped("too_short")
    max_text_chars: int = 100_000  # ~200 KB of UTF-8: longer text is cut at a boundary (truncated=True)
    max_title_chars: int = 400  # titles are also cut under Lucene's 32,766-byte term limit
    max_author_chars: int = 120
    max_authors: int = 10
    max_url_chars: int = 2048  # image and page-canonical URLs longer than this are ignored
    max_token_chars: int = 200  # whitespace-free runs longer than this (base64, minified code) are dropped
    max_html_chars: int = 1_500_000  # larger pages are cut before parsing (html_truncated): ~4 s of trafilatura
    future_tolerance: timedelta = timedelta(days=1)


def extract_article(
    raw: RawArticle, config: ExtractConfig, now: datetime | None = None, *, detector: LanguageDetector | None = None
) -> Article:
    """The extracted, language-identified article for ``raw`` (see the module docstring for the outcomes)."""
    try:
        return _extract(raw, config, _aware(now or datetime.now(UTC)), detector or default_detector())
    except (Dropped, PermanentError):
        raise
    except Exception as exc:  # the contract: nothing but Dropped/PermanentError leaves this stage
        raise PermanentError(f"extract_failed: {type(exc).__name__}: {exc}"[:500], stage=STAGE) from exc


def _extract(raw: RawArticle, config: ExtractConfig, now: datetime, detector: LanguageDetector) -> Article:
    _check_identity(raw)
    warnings: list[str] = []
    page, page_text = _read_html(raw, config, warnings)
    body, method = _choose_text(raw, page_text, config, warnings)
    title = _title(raw, page)
    text, truncated = _bound_text(_drop_title_line(clean_text(body), title), config, warnings)
    guess = _identify_language(text, config, detector)
    published_at, date_method = choose_published_at(page, raw, now, config, warnings)
    url = _canonical(raw.url, page, config)
    return Article(
        id=_identity(raw, url),
        url=url,
        source=raw.source,
        source_name=raw.source_name,
        source_country=raw.source_country,
        title=_bounded_title(title, text, config, warnings),
        text=text,
        language=guess.language,
        language_score=guess.score,
        published_at=published_at,
        published_at_method=date_method,
        fetched_at=_aware(raw.fetched_at),
        authors=_authors(raw, page, config),
        image=bound_url(page.image if page and page.image else None, config.max_url_chars)
        or bound_url(raw.image, config.max_url_chars),
        extraction_method=method,
        text_hash=text_hash(text),
        truncated=truncated,
        warnings=warnings,
    )


def _check_identity(raw: RawArticle) -> None:
    if not _ID.fullmatch(raw.id or ""):
        raise PermanentError("bad_id: not a sha256 hex digest", stage=STAGE)
    if bound_url(raw.url, 8192) is None:
        raise PermanentError("bad_url: not an absolute http(s) URL under 8192 characters", stage=STAGE)


def _identify_language(text: str, config: ExtractConfig, detector: LanguageDetector) -> LanguageGuess:
    """The language of ``text``, after the expected drops: empty, too short, not Arabic (unless kept)."""
    if not text:
        raise Dropped("empty", stage=STAGE)
    if len(text) < config.min_text_chars:
        raise Dropped("too_short", stage=STAGE)
    guess = detector.detect(text)
    if not guess.is_arabic and not config.keep_non_arabic:
        raise Dropped("not_arabic", stage=STAGE)
    return guess


def text_hash(text: str) -> str:
    """The exact-duplicate key: sha256 hex of the normalised text."""
    return hashlib.sha256(normalize_arabic(text).encode("utf-8", "replace")).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _read_html(raw: RawArticle, config: ExtractConfig, warnings: list[str]) -> tuple[PageMeta | None, str]:
    """(page metadata, trafilatura text) — (None, "") when there is no usable HTML."""
    if not raw.html or not raw.html.strip():
        return None, ""
    source = raw.html
    if len(source) > config.max_html_chars:
        source = source[: config.max_html_chars]
        warnings.append("html_truncated")
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    tree = load_html(clean_chars(source))
    if tree is None:
        warnings.append("html_unparsable")
        return None, ""
    page = read_page_meta(tree)
    try:
        extracted: Any = bare_extraction(
            tree, url=raw.url, with_metadata=True, include_comments=False, include_tables=False, deduplicate=False
        )
    except Exception:  # a trafilatura bug on one odd page must not lose the article: our fallback runs instead
        warnings.append("trafilatura_failed")
        extracted = None
    page.title = getattr(extracted, "title", None) or page.title
    if getattr(extracted, "author", None) and not page.authors:
        page.authors = [a.strip() for a in str(extracted.author).split(";") if a.strip()]
    page.image = page.image or getattr(extracted, "image", None)
    page.site_name = page.site_name or getattr(extracted, "sitename", None)
    return page, getattr(extracted, "text", None) or ""


def _choose_text(raw: RawArticle, page_text: str, config: ExtractConfig, warnings: list[str]) -> tuple[str, str]:
    if page_text and len(page_text) >= config.min_text_chars:
        return page_text, "trafilatura"
    candidates: list[tuple[str, str]] = []
    if raw.html and raw.html.strip():
        warnings.append("trafilatura_short" if page_text else "trafilatura_empty")
        candidates.append((page_text, "trafilatura"))
    for value, plain_method in ((raw.text, "text"), (raw.summary, "feed")):
        if value and value.strip():
            # Markup means a feed's HTML content; plain raw.text is text a caller gave us (akhbar process).
            has_markup = bool(_MARKUP.search(value))
            candidates.append((strip_markup(value), "feed") if has_markup else (value, plain_method))
    fallback = _html_fallback(raw, config, warnings)
    if fallback:
        candidates.append((fallback, "fallback"))
    if len(candidates) <= 1:
        return candidates[0] if candidates else ("", "text")
    return max(candidates, key=lambda c: len(clean_chars(c[0]).strip()))


def _html_fallback(raw: RawArticle, config: ExtractConfig, warnings: list[str]) -> str:
    if not raw.html or not raw.html.strip():
        return ""
    from trafilatura.utils import load_html

    tree = load_html(clean_chars(raw.html[: config.max_html_chars]))
    return fallback_text(tree) if tree is not None else ""


def _bound_text(text: str, config: ExtractConfig, warnings: list[str]) -> tuple[str, bool]:
    """Boilerplate removed, overlong runs dropped, length bounded (``text`` is already `clean_text`)."""
    text, removed = remove_boilerplate(text)
    if removed:
        warnings.append(f"boilerplate_lines_removed:{removed}")
    text, broken = break_long_runs(text, config.max_token_chars)
    if broken:
        warnings.append("long_runs_dropped")
        text = clean_text(text)
    text, truncated = truncate_text(text, config.max_text_chars)
    return text, truncated


def clean_chars(value: str) -> str:
    """Remove control characters and lone surrogates (they break lxml, JSON and UTF-8 encoding)."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def clean_text(value: str) -> str:
    """Display text: control characters removed, spaces folded within lines, one paragraph per line."""
    value = clean_chars(value).replace("\u2028", "\n").replace("\u2029", "\n")
    # Every inline space but " " is unprintable: printable text whose spaces are single has nothing to fold
    # (the substitution would rewrite each of its spaces, the dearest step of extraction on plain text).
    if "  " in value or not value.replace("\n", "").isprintable():
        value = _INLINE_SPACE.sub(" ", value)
    return "\n".join(stripped for line in value.split("\n") if (stripped := line.strip()))


def strip_markup(value: str) -> str:
    """Plain text of a feed entry's HTML: scripts and comments dropped, block tags → newlines, entities decoded.

    Feeds often escape their HTML twice (``&amp;lt;p&amp;gt;``), so more passes run while decoding reveals markup.
    """
    for _ in range(3):
        value = _DROP_ELEMENTS.sub(" ", value)
        value = _BLOCK_TAG.sub("\n", value)
        value = html.unescape(_TAG.sub(" ", value))
        if not _MARKUP.search(value):
            break
    return value


def choose_published_at(
    page: PageMeta | None, raw: RawArticle, now: datetime, config: ExtractConfig, warnings: list[str]
) -> tuple[datetime, str]:
    """Page metadata, then the feed's date, then fetch time; out-of-range dates are skipped with a warning."""
    latest = now + config.future_tolerance
    for candidate, method in ((page.published_at if page else None, "page"), (raw.published_at, "feed")):
        if candidate is None:
            continue
        moment = _aware(candidate)
        if EARLIEST_DATE <= moment <= latest:
            return moment, method
        warnings.append(f"{method}_date_rejected")
    fetched = _aware(raw.fetched_at)
    if not EARLIEST_DATE <= fetched <= latest:
        warnings.append("fetch_time_rejected")
        return now, "fetch_time"
    return fetched, "fetch_time"


def _title(raw: RawArticle, page: PageMeta | None) -> str:
    """The page's title (site name removed), else the feed's; "" when neither has one."""
    page_title = _strip_site_name(_plain_title(page.title), page.site_name) if page and page.title else ""
    feed_title = _plain_title(raw.title)
    return " ".join((page_title or feed_title).split())


def _plain_title(title: str) -> str:
    """A title as display text: markup dropped (escaped in feeds, or literal text inside a page's <title>)."""
    return clean_text(strip_markup(title)) if _MARKUP.search(title) else clean_text(title)


def _drop_title_line(text: str, title: str) -> str:
    """Extractors often repeat the headline as the first line of the body; the title field already holds it."""
    first, _, rest = text.partition("\n")
    if title and rest and normalize_arabic(first) == normalize_arabic(title):
        return rest
    return text


def _bounded_title(title: str, text: str, config: ExtractConfig, warnings: list[str]) -> str:
    if not title:
        warnings.append("title_from_text")
        title = text.split("\n", 1)[0]
        title = title if len(title) <= 160 else truncate_text(title, 160)[0] + "…"
    return bound_title(title, config.max_title_chars)


def _strip_site_name(title: str, site_name: str | None) -> str:
    """Drop a trailing (or leading) "| Site name" segment when it names the site."""
    site_key = normalize_arabic(site_name or "")
    for separator in _TITLE_SEPARATORS:
        if separator not in title:
            continue
        head, _, tail = title.rpartition(separator)
        first, _, rest = title.partition(separator)
        if site_key and normalize_arabic(tail) == site_key and len(head) >= 10:
            return head.strip()
        if site_key and normalize_arabic(first) == site_key and len(rest) >= 10:
            return rest.strip()
    return title


def _authors(raw: RawArticle, page: PageMeta | None, config: ExtractConfig) -> list[str]:
    names = (page.authors if page and page.authors else None) or raw.authors
    bounded = [truncate_utf8(" ".join(clean_chars(n).split()), config.max_author_chars * 4) for n in names]
    return list(dict.fromkeys(n[: config.max_author_chars] for n in bounded if n))[: config.max_authors]


def _identity(raw: RawArticle, url: str) -> str:
    """The article id follows the page's canonical URL when the raw id was derived from the link it came under
    (two feed links to one page are one article); an id chosen otherwise by the producer is kept."""
    if url == raw.url:
        return raw.id
    try:
        return article_id(url) if raw.id == article_id(raw.url) else raw.id
    except ValueError:
        return raw.id


def _canonical(url: str, page: PageMeta | None, config: ExtractConfig) -> str:
    """The page's canonical URL when it is on the same site as ``url`` (a page cannot claim another site)."""
    if not page or not page.canonical_url:
        return url
    try:
        candidate = bound_url(urljoin(url, page.canonical_url.strip()), config.max_url_chars)
        if candidate is None:
            return url
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        candidate_host = (urlsplit(candidate).hostname or "").removeprefix("www.")
    except ValueError:  # a malformed href (bad IPv6 literal, bad port): keep the connector's URL
        return url
    return candidate if host and host == candidate_host else url
