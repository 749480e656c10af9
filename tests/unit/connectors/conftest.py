"""Fixtures for connector tests: a local HTTP server on 127.0.0.1 with scripted replies, and fixture files."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.config import FetchPolicy
from connectors.http import HttpFetcher
from connectors.pages import PageFetcher
from connectors.state import SourceState

FEEDS = Path(__file__).parents[2] / "fixtures" / "feeds"


@dataclass
class Reply:
    """One scripted HTTP answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    hang: bool = False
    trickle: float = 0.0  # seconds between 16-byte pieces of the body (a slow server)
    no_length: bool = False  # no Content-Length: the body ends when the connection closes


class FeedServer:
    """A threaded HTTP server whose routes the test scripts; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Callable[[dict[str, str]], Reply]] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.released = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def fixture(self, name: str, **substitutions: str) -> bytes:
        data = (FEEDS / name).read_bytes().replace(b"{BASE}", self.base.encode())
        for key, value in substitutions.items():
            data = data.replace(("{" + key + "}").encode(), value.encode())
        return data

    def route(self, path: str, reply: Reply | Callable[[dict[str, str]], Reply]) -> str:
        self.routes[path] = reply
        return self.url(path)

    def serve_file(self, path: str, name: str, content_type: str, **reply_options: object) -> str:
        return self.route(path, Reply(self.fixture(name), headers={"Content-Type": content_type}, **reply_options))  # type: ignore[arg-type]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.hits[self.path] += 1
                server.requests.append((self.path, headers))
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    self._send(Reply(b"not found", status=404))
                    return
                reply = route(headers) if callable(route) else route
                if reply.etag and headers.get("if-none-match") == reply.etag:
                    reply = Reply(status=304, etag=reply.etag)
                elif reply.last_modified and headers.get("if-modified-since") == reply.last_modified:
                    reply = Reply(status=304, last_modified=reply.last_modified)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.hang:
                    server.released.wait(30)
                    return
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                if reply.last_modified:
                    self.send_header("Last-Modified", reply.last_modified)
                if reply.no_length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                elif "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if not reply.trickle:
                    self.wfile.write(reply.body)
                    return
                for start in range(0, len(reply.body), 16):
                    self.wfile.write(reply.body[start : start + 16])
                    self.wfile.flush()
                    if server.released.wait(reply.trickle):
                        return

        return Handler

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fast_policy(**overrides: object) -> FetchPolicy:
    """A policy for tests: short timeouts, no politeness delay."""
    options: dict[str, object] = {"timeout": 2.0, "min_delay": 0.0, "max_per_host": 4} | overrides
    return FetchPolicy.model_validate(options)


def make_context(policy: FetchPolicy | None = None, source_id: str = "test") -> ConnectorContext:
    """A connector context with a fresh client (call inside a running loop; close ``ctx.fetcher``)."""
    fetcher = HttpFetcher(policy or fast_policy(), "akhbar-test/1.0")
    return ConnectorContext(fetcher=fetcher, pages=PageFetcher(fetcher), state=SourceState(source_id))


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def recent_dates() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"NOW": iso(now - timedelta(hours=1)), "OLD": iso(now - timedelta(days=30))}


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
