"""Canonical URLs and article ids: tracking removed, host and scheme normalised, nothing else merged."""

from __future__ import annotations

import pytest

from processors.urls import article_id, canonical_url, identity_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://WWW.Example.COM/news/1?utm_source=x&utm_medium=rss#top", "https://www.example.com/news/1"),
        ("https://example.com:443/a?b=2&a=1&fbclid=zz&gclid=q", "https://example.com/a?a=1&b=2"),
        ("http://example.com:8080/a/index.html", "http://example.com:8080/a/"),
        ("https://example.com/%D8%AE%D8%A8%D8%B1", "https://example.com/%D8%AE%D8%A8%D8%B1"),
        ("https://example.com/خبر", "https://example.com/%D8%AE%D8%A8%D8%B1"),
        ("https://example.com/a?id=5&ocid=rss&at_campaign=x&sc_src=1", "https://example.com/a?id=5"),
        ("https://مثال.com/a", "https://xn--mgbh0fb.com/a"),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_id_ignores_scheme_and_www_but_not_the_path_or_query() -> None:
    base = article_id("https://example.com/news/1")
    assert article_id("http://www.example.com/news/1?utm_source=x") == base
    assert identity_url("http://www.example.com/news/1") == "https://example.com/news/1"
    assert article_id("https://example.com/news/2") != base
    assert article_id("https://example.com/news/1?id=2") != base
    assert article_id("https://other.example/news/1") != base


@pytest.mark.parametrize(
    "bad", ["ftp://example.com/a", "javascript:alert(1)", "/relative", "https://", "http://a:99999/"]
)
def test_non_http_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(bad)
