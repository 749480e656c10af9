"""Connectors: the one shared async HTTP client (aiohttp) with politeness, size caps and safe redirects.

aiohttp is used rather than httpx because one process must poll hundreds of feeds per second. We decompress
ourselves (``auto_decompress=False``) because the library inflates whole chunks without a bound: here every
inflate step is capped (``max_length``), so a gzip bomb stops at ``max_bytes`` of output. Redirects are followed
by hand so that each hop is checked against the SSRF guard and the redirect limit.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import aiohttp

from connectors.config import FetchPolicy
from connectors.safety import ALLOW_PRIVATE, AddressGuard, AddressRefused, GuardedResolver

MAX_RETRY_AFTER = 6 * 3600.0
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK = 64 * 1024


class FetchError(Exception):
    """A fetch failed; ``kind`` names why (timeout, too_large, http_status, …) for counters and health."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.kind in {"timeout", "network"} or (self.status in TRANSIENT_CODES)


@dataclass
class FetchResult:
    url: str
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    redirects: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def charset(self) -> str | None:
        for part in self.content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "charset" and value:
                return value.strip().strip("\"'")
        return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), capped at six hours."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


class _HostGate:
    """At most ``limit`` requests in flight to one host, starting at least ``min_delay`` apart."""

    def __init__(self, limit: int) -> None:
        self.semaphore = asyncio.Semaphore(limit)
        self.next_start = 0.0
        self.paused_until = 0.0

    async def enter(self, min_delay: float) -> None:
        await self.semaphore.acquire()
        now = time.monotonic()
        start = max(now, self.next_start, self.paused_until)
        self.next_start = start + min_delay
        if start > now:
            await asyncio.sleep(start - now)

    def leave(self) -> None:
        self.semaphore.release()


class _Inflater:
    """Incremental decoder of a Content-Encoding with a hard cap on the output size."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self.decoder: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.decoder = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding in ("", "identity"):
            self.decoder = None
        else:
            raise FetchError("bad_encoding", f"unsupported Content-Encoding {encoding!r}")

    def _emit(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise FetchError("too_large", f"decompressed body over {self.max_bytes} bytes")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self.decoder is None:
            self._emit(chunk)
            return
        data = chunk
        while data:
            try:
                out = self.decoder.decompress(data, self.max_bytes - self.size + 1)
            except zlib.error as exc:
                raise FetchError("bad_encoding", f"corrupt compressed body: {exc}") from exc
            self._emit(out)
            data = self.decoder.unconsumed_tail
            if self.decoder.eof:
                break

    def body(self) -> bytes:
        return b"".join(self.parts)


class HttpFetcher:
    """The process-wide HTTP client. Create inside a running loop; ``await close()`` at the end."""

    def __init__(
        self, policy: FetchPolicy, user_agent: str, observe: Callable[[str, float], None] | None = None
    ) -> None:
        self.policy = policy
        self.user_agent = policy.user_agent or user_agent
        # Called with ("fetch_seconds", duration) per request: the wire time, not the politeness wait before it.
        self.observe = observe
        self.guard = AddressGuard()
        self._gates: dict[str, _HostGate] = {}
        self._session: aiohttp.ClientSession | None = None

    def update_policy(self, policy: FetchPolicy, user_agent: str) -> None:
        """Apply a reloaded policy (new host gates pick up a changed concurrency cap)."""
        if policy.max_per_host != self.policy.max_per_host:
            self._gates.clear()
        self.policy = policy
        self.user_agent = policy.user_agent or user_agent

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(), limit=200, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(self.policy.max_per_host)
        return gate

    def pause_host(self, host: str, seconds: float) -> None:
        """Hold every request to ``host`` for ``seconds`` (after a 429 or 503 with Retry-After)."""
        gate = self.gate(host)
        gate.paused_until = max(gate.paused_until, time.monotonic() + seconds)

    async def fetch(
        self,
        url: str,
        *,
        allow_private: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> FetchResult:
        """GET ``url`` following redirects; 200 and 304 return, anything else raises ``FetchError``."""
        headers = {"User-Agent": self.user_agent, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = {url}
        current = url
        for hop in range(self.policy.max_redirects + 1):
            result = await self._fetch_once(current, headers, allow_private)
            if result.status not in REDIRECT_CODES:
                result.redirects = hop
                return result
            location = result.headers.get("location")
            if not location:
                raise FetchError("http_status", f"{result.status} without Location", status=result.status)
            current = urljoin(current, location)
            if current in seen:
                raise FetchError("redirect_loop", f"redirect loop at {current}", status=result.status)
            seen.add(current)
        raise FetchError("too_many_redirects", f"more than {self.policy.max_redirects} redirects from {url}")

    async def _fetch_once(self, url: str, headers: dict[str, str], allow_private: bool) -> FetchResult:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError("bad_url", f"not an http(s) URL: {url}")
        host = parts.hostname.lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            await self.guard.check(host, port, allow_private=allow_private)
        except AddressRefused as exc:
            raise FetchError("refused_address", str(exc)) from exc
        except OSError as exc:
            raise FetchError("network", str(exc)) from exc
        gate = self.gate(host)
        await gate.enter(self.policy.min_delay)
        token = ALLOW_PRIVATE.set(allow_private)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.policy.timeout):
                return await self._request(url, headers, host)
        except TimeoutError as exc:
            raise FetchError("timeout", f"no complete answer within {self.policy.timeout:g}s") from exc
        except aiohttp.ClientError as exc:
            raise FetchError("network", f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise FetchError("network", str(exc)) from exc
        finally:
            ALLOW_PRIVATE.reset(token)
            gate.leave()
            if self.observe is not None:
                self.observe("fetch_seconds", time.monotonic() - started)

    async def _request(self, url: str, headers: dict[str, str], host: str) -> FetchResult:
        session = self._client()
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            response_headers = {k.lower(): v for k, v in response.headers.items()}
            status = response.status
            if status in REDIRECT_CODES or status == 304:
                return FetchResult(url=str(response.url), status=status, headers=response_headers)
            if status != 200:
                retry_after = parse_retry_after(response_headers.get("retry-after"))
                if status in (429, 503) and retry_after:
                    self.pause_host(host, retry_after)
                raise FetchError("http_status", f"HTTP {status} from {url}", status=status, retry_after=retry_after)
            body = await self._read_body(response, response_headers)
            return FetchResult(url=str(response.url), status=status, headers=response_headers, body=body)

    async def _read_body(self, response: aiohttp.ClientResponse, headers: Mapping[str, str]) -> bytes:
        max_bytes = self.policy.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError("too_large", f"Content-Length {declared} over {max_bytes} bytes")
        inflater = _Inflater(headers.get("content-encoding", ""), max_bytes)
        received = 0
        async for chunk in response.content.iter_chunked(CHUNK):
            received += len(chunk)
            if received > max_bytes:
                raise FetchError("too_large", f"body over {max_bytes} bytes")
            inflater.feed(chunk)
        return inflater.body()


def gunzip_capped(body: bytes, max_bytes: int) -> bytes:
    """Inflate a gzip file (a ``.xml.gz`` sitemap) with the same cap as an HTTP body."""
    inflater = _Inflater("gzip", max_bytes)
    inflater.feed(body)
    return inflater.body()
