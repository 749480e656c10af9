"""The shared HTTP client: conditional GET, caps, timeouts, redirects, Retry-After, politeness, SSRF."""

from __future__ import annotations

import asyncio
import gzip
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.http import FetchError, HttpFetcher, parse_retry_after
from connectors.safety import is_public_address
from tests.unit.connectors.conftest import FeedServer, Reply, fast_policy, gzip_bomb


async def fetch(url: str, policy_overrides: dict | None = None, **options: object):  # type: ignore[no-untyped-def]
    fetcher = HttpFetcher(fast_policy(**(policy_overrides or {})), "akhbar-test/1.0")
    try:
        return await fetcher.fetch(url, allow_private=True, **options)  # type: ignore[arg-type]
    finally:
        await fetcher.close()


def fetch_error(url: str, policy_overrides: dict | None = None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        asyncio.run(fetch(url, policy_overrides))
    return caught.value


def test_conditional_get_sends_validators_and_gets_304(feed_server: FeedServer) -> None:
    stamp = "Wed, 13 Nov 2024 08:00:00 GMT"
    url = feed_server.route("/feed", Reply(b"<rss/>", etag='"abc"', last_modified=stamp))
    first = asyncio.run(fetch(url))
    assert first.status == 200 and first.etag == '"abc"' and first.last_modified == stamp
    second = asyncio.run(fetch(url, etag='"abc"', last_modified=stamp))
    assert second.not_modified and second.body == b""
    _, headers = feed_server.requests[-1]
    assert headers["if-none-match"] == '"abc"' and headers["if-modified-since"] == stamp
    assert headers["user-agent"] == "akhbar-test/1.0"


def test_gzip_body_is_inflated(feed_server: FeedServer) -> None:
    body = "<rss>أخبار</rss>".encode()
    url = feed_server.route("/gz", Reply(gzip.compress(body), headers={"Content-Encoding": "gzip"}))
    assert asyncio.run(fetch(url)).body == body


def test_gzip_bomb_stops_at_the_decompressed_cap(feed_server: FeedServer) -> None:
    bomb = gzip_bomb(50_000_000)
    assert len(bomb) < 100_000
    url = feed_server.route("/bomb", Reply(bomb, headers={"Content-Encoding": "gzip"}))
    error = fetch_error(url, {"max_bytes": 1_000_000})
    assert error.kind == "too_large" and "decompressed" in str(error)


def test_oversized_body_refused_by_header_and_by_count(feed_server: FeedServer) -> None:
    big = b"x" * 300_000
    declared = feed_server.route("/big", Reply(big))
    assert fetch_error(declared, {"max_bytes": 100_000}).kind == "too_large"
    undeclared = feed_server.route("/big-stream", Reply(big, no_length=True))
    error = fetch_error(undeclared, {"max_bytes": 100_000})
    assert error.kind == "too_large" and "Content-Length" not in str(error)


def test_hanging_and_slow_servers_time_out(feed_server: FeedServer) -> None:
    hang = feed_server.route("/hang", Reply(hang=True))
    started = time.monotonic()
    assert fetch_error(hang, {"timeout": 0.5}).kind == "timeout"
    slow = feed_server.route("/slow", Reply(b"y" * 4096, trickle=0.05))
    assert fetch_error(slow, {"timeout": 0.5}).kind == "timeout"
    assert time.monotonic() - started < 3


def test_redirects_followed_within_limit_and_loops_refused(feed_server: FeedServer) -> None:
    feed_server.route("/final", Reply(b"ok"))
    feed_server.route("/hop1", Reply(status=301, headers={"Location": "/hop2"}))
    feed_server.route("/hop2", Reply(status=302, headers={"Location": feed_server.url("/final")}))
    result = asyncio.run(fetch(feed_server.url("/hop1")))
    assert result.body == b"ok" and result.redirects == 2 and result.url.endswith("/final")
    assert fetch_error(feed_server.url("/hop1"), {"max_redirects": 1}).kind == "too_many_redirects"
    feed_server.route("/loop-a", Reply(status=302, headers={"Location": "/loop-b"}))
    feed_server.route("/loop-b", Reply(status=302, headers={"Location": "/loop-a"}))
    assert fetch_error(feed_server.url("/loop-a")).kind == "redirect_loop"


def test_429_retry_after_is_reported_and_pauses_the_host(feed_server: FeedServer) -> None:
    url = feed_server.route("/busy", Reply(b"slow down", status=429, headers={"Retry-After": "1"}))
    feed_server.route("/other", Reply(b"fine"))

    async def scenario() -> tuple[FetchError, float]:
        fetcher = HttpFetcher(fast_policy(), "akhbar-test/1.0")
        try:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(url, allow_private=True)
            started = time.monotonic()
            await fetcher.fetch(feed_server.url("/other"), allow_private=True)
            return caught.value, time.monotonic() - started
        finally:
            await fetcher.close()

    error, waited = asyncio.run(scenario())
    assert error.status == 429 and error.retry_after == 1.0 and error.transient
    assert waited >= 0.9, "the next request to the same host waits for Retry-After"


def test_retry_after_http_date() -> None:
    now = datetime(2024, 11, 13, 8, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=120), usegmt=True)
    assert parse_retry_after(later, now) == 120
    assert parse_retry_after("30") == 30
    assert parse_retry_after("999999") == 6 * 3600
    assert parse_retry_after("soon") is None


def test_politeness_min_delay_and_concurrency_cap(feed_server: FeedServer) -> None:
    feed_server.route("/p", Reply(b"ok", delay=0.2))

    async def burst(policy: dict, count: int) -> float:
        fetcher = HttpFetcher(fast_policy(**policy), "akhbar-test/1.0")
        started = time.monotonic()
        try:
            await asyncio.gather(*(fetcher.fetch(feed_server.url("/p"), allow_private=True) for _ in range(count)))
        finally:
            await fetcher.close()
        return time.monotonic() - started

    serial = asyncio.run(burst({"max_per_host": 1}, 4))
    assert serial >= 0.8, "one at a time: four 0.2 s answers take 0.8 s"
    parallel = asyncio.run(burst({"max_per_host": 4}, 4))
    assert parallel < 0.6
    spaced = asyncio.run(burst({"max_per_host": 4, "min_delay": 0.3}, 3))
    assert spaced >= 0.6 + 0.2, "starts are at least min_delay apart"


def test_private_addresses_refused_unless_allowed(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed", Reply(b"ok"))

    async def refused(target: str) -> FetchError:
        fetcher = HttpFetcher(fast_policy(), "akhbar-test/1.0")
        try:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(target)
            return caught.value
        finally:
            await fetcher.close()

    assert asyncio.run(refused(url)).kind == "refused_address"
    assert asyncio.run(refused(url.replace("127.0.0.1", "localhost"))).kind == "refused_address"
    assert feed_server.hits["/feed"] == 0
    # The same URL is fetched for a source that allows private addresses (what the tests rely on).
    assert asyncio.run(fetch(url)).body == b"ok"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_public_address_classification(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_unsupported_scheme_refused() -> None:
    with pytest.raises(FetchError) as caught:
        asyncio.run(fetch("file:///etc/passwd"))
    assert caught.value.kind == "bad_url"


def test_each_request_reports_its_wire_time_but_not_the_politeness_wait(feed_server: FeedServer) -> None:
    url = feed_server.route("/timed", Reply(b"<rss/>"))
    samples: list[tuple[str, float]] = []

    async def twice() -> float:
        fetcher = HttpFetcher(
            fast_policy(min_delay=0.5), "akhbar-test/1.0", observe=lambda n, v: samples.append((n, v))
        )
        started = time.monotonic()
        try:
            await fetcher.fetch(url, allow_private=True)
            await fetcher.fetch(url, allow_private=True)  # waits ~0.5 s at the host gate first
        finally:
            await fetcher.close()
        return time.monotonic() - started

    elapsed = asyncio.run(twice())
    assert [name for name, _ in samples] == ["fetch_seconds", "fetch_seconds"]
    assert elapsed >= 0.5 and all(0 < value < 0.4 for _, value in samples)
