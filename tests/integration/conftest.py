"""Integration fixtures: a local news site on 127.0.0.1 (RSS feed + article pages) built from Arabic fixtures."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

E2E = Path(__file__).parents[1] / "fixtures" / "e2e"


@dataclass
class Story:
    slug: str
    title: str
    paragraphs: list[str]


@dataclass
class LocalSite:
    """A tiny news site whose feed can gain items while a test runs."""

    base: str = ""
    stories: list[Story] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, story: Story) -> None:
        with self.lock:
            self.stories.append(story)

    def feed(self) -> bytes:
        now = datetime.now(UTC)
        with self.lock:
            items = "".join(
                f"<item><title>{escape(s.title)}</title><link>{self.base}/news/{s.slug}.html</link>"
                f"<description>{escape(s.paragraphs[0])}</description>"
                f"<pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate></item>"
                for i, s in enumerate(self.stories)
            )
        channel = f"<title>أخبار محلية</title><link>{self.base}/</link><description>اختبار</description>{items}"
        return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>{channel}</channel></rss>'.encode()

    def page(self, slug: str) -> bytes | None:
        story = next((s for s in self.stories if s.slug == slug), None)
        if story is None:
            return None
        body = "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
        return (f'<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{escape(story.title)}'
                f'</title><link rel="canonical" href="{self.base}/news/{slug}.html"></head><body><header>'
                f"<nav><a href='/'>الرئيسية</a></nav></header><article><h1>{escape(story.title)}</h1>{body}"
                "</article><footer>جميع الحقوق محفوظة</footer></body></html>").encode()  # fmt: skip


def load_story(slug: str, title: str) -> Story:
    text = (E2E / f"{slug}.txt").read_text(encoding="utf-8")
    return Story(slug, title, [line for line in text.splitlines() if line.strip()])


STORIES = {
    "deir-ez-zor": "غارات أمريكية جديدة على مواقع الميليشيات الإيرانية في دير الزور",
    "khartoum": "ارتفاع حصيلة قصف أم درمان إلى اثني عشر قتيلاً",
    "beirut": "تظاهرة حاشدة في بيروت احتجاجاً على تدهور الأوضاع المعيشية",
}


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a connector stopped for a broker rotation) is no error of the site's."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.fixture
def local_site() -> Iterator[LocalSite]:
    site = LocalSite()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits[self.path] = site.hits.get(self.path, 0) + 1
            if self.path == "/rss.xml":
                self._send(200, "application/rss+xml; charset=utf-8", site.feed())
            elif self.path.startswith("/news/") and (page := site.page(self.path[6:].removesuffix(".html"))):
                self._send(200, "text/html; charset=utf-8", page)
            elif self.path == "/robots.txt":
                self._send(200, "text/plain", b"User-agent: *\nAllow: /\n")
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = QuietServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
