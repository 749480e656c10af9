"""`akhbar serve` in headless Chromium: search, filter by a facet, the map, hostile titles, open a result.

Needs Debian's chromium (`apt-get install -y chromium`); driven by Playwright's Python package with the
system browser, so nothing is downloaded. A missing browser fails the test with that instruction.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.settings import Settings
from pipeline.sinks.embedded_sink import EmbeddedSink
from pipeline.web.server import start_server
from tests.unit.pipeline.sinks.factory import make_article

pytestmark = pytest.mark.browser
CHROMIUM = Path(os.environ.get("AKHBAR_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE = '<img src=x onerror="window.__xss=1">غزة تحت القصف'


@pytest.fixture
def article_site(tmp_path: Path) -> Iterator[str]:
    """A local 'news site' the result links point to."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "gaza.html").write_text(
        "<html><head><meta charset=utf-8></head><body><p id=body>نص المقال الكامل</p></body></html>", "utf-8"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page_url(tmp_path: Path, article_site: str) -> Iterator[str]:
    gaza = make_article(
        f"{article_site}/gaza.html",
        title=HOSTILE,
        text="قصف على مدينة غزة صباح اليوم.",
        source="aljazeera",
        places=[{"name": "غزة", "country_code": "PS", "lat": 31.5, "lon": 34.47}],
    )
    copy = make_article("https://copy.example/1", source="bbc", dedup={"status": "duplicate", "duplicate_of": gaza.id})
    rafah = make_article(
        "https://b.example/rafah",
        title="مستشفيات غزة ورفح",
        text="خرجت مستشفيات غزة عن الخدمة.",
        source="bbc",
        places=[{"name": "رفح", "country_code": "PS", "lat": 31.29, "lon": 34.25}],
    )
    cairo = make_article("https://c.example/cairo", title="اجتماع في القاهرة", text="اجتماع في القاهرة.", source="cnn")

    async def fill() -> None:
        sink = EmbeddedSink(tmp_path / "search.sqlite3")
        await sink.open()
        await sink.write([gaza, copy, rafah, cairo])
        await sink.close()

    asyncio.run(fill())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    settings = Settings(data_dir=tmp_path, elasticsearch_url=None)
    started = asyncio.run_coroutine_threadsafe(
        start_server(settings, tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png"), loop
    )
    runner, port = started.result(timeout=10)
    yield f"http://127.0.0.1:{port}/"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def test_search_filter_map_and_open_a_result(page_url: str, article_site: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium`")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        page.goto(page_url)
        expect(page.locator("#summary")).to_have_text("3 نتيجة")
        assert page.evaluate("document.documentElement.dir") == "rtl"

        page.fill("#q", "غزة")
        page.press("#q", "Enter")
        expect(page.locator("#summary")).to_have_text("2 نتيجة")
        expect(page.locator(".hit mark").first).to_have_text("غزة")
        hostile = page.locator(".hit h3 a", has_text="onerror")
        expect(hostile).to_have_text(HOSTILE)  # shown as text, never parsed
        assert page.evaluate("window.__xss") is None
        assert page.locator(".hit img").count() == 0
        expect(page.locator(".reported").first).to_have_text("نقلته 2 وسائل إعلام")
        expect(page.locator("#map path.leaflet-interactive")).to_have_count(2)

        page.locator("#facets button[data-facet=source]", has_text="bbc").click()
        expect(page.locator("#summary")).to_have_text("1 نتيجة")
        expect(page.locator(".hit h3 a")).to_have_text("مستشفيات غزة ورفح")
        page.locator(".active-filter").click()
        expect(page.locator("#summary")).to_have_text("2 نتيجة")

        hostile.click()
        page.wait_for_url(f"{article_site}/gaza.html")
        expect(page.locator("#body")).to_have_text("نص المقال الكامل")
        browser.close()
