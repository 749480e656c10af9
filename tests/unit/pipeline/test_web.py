"""`akhbar serve` API: search parameters, JSON results, errors, security headers (no browser)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pipeline.settings import Settings
from pipeline.sinks.embedded_sink import EmbeddedSink
from pipeline.web.server import start_server
from tests.unit.pipeline.sinks.factory import make_article


def fill(path: Path) -> None:
    async def main() -> None:
        sink = EmbeddedSink(path)
        await sink.open()
        await sink.write(
            [
                make_article("https://a.com/1", title="قصف على غزة", source="a", events=["airstrike"]),
                make_article("https://b.com/2", title="اجتماع في القاهرة", text="عقد اجتماع في القاهرة.", source="b"),
            ]
        )
        await sink.close()

    asyncio.run(main())


def fetch(settings: Settings, *paths: str) -> list[tuple[int, dict[str, str], Any]]:
    async def main() -> list[tuple[int, dict[str, str], Any]]:
        runner, port = await start_server(settings, tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png")
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for path in paths:
                    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                        body = await response.json() if "json" in response.content_type else await response.text()
                        out.append((response.status, dict(response.headers), body))
        finally:
            await runner.cleanup()
        return out

    return asyncio.run(main())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    fill(tmp_path / "search.sqlite3")
    return Settings(data_dir=tmp_path, elasticsearch_url=None)


def test_search_api_answers_with_filters(settings: Settings) -> None:
    (status, _, body), (_, _, filtered), (_, _, typed) = fetch(
        settings, "/api/search?q=%D8%BA%D8%B2%D8%A9", "/api/search?source=b", "/api/search?type=airstrike&sort=date"
    )
    assert status == 200
    assert body["total"] == 1
    assert body["hits"][0]["title_highlight"][-1] == ["غزة", True]
    assert [hit["source"] for hit in filtered["hits"]] == ["b"]
    assert typed["total"] == 1


def test_bad_parameters_are_a_400(settings: Settings) -> None:
    (status, _, body), (status_date, _, _) = fetch(settings, "/api/search?limit=100000", "/api/search?since=soon")
    assert status == 400
    assert "bad query" in body["error"]
    assert status_date == 400


def test_missing_store_is_a_503_with_the_reason(tmp_path: Path) -> None:
    [(status, _, body)] = fetch(Settings(data_dir=tmp_path / "none", elasticsearch_url=None), "/api/search?q=x")
    assert status == 503
    assert "no search store" in body["error"]


def test_page_config_and_security_headers(settings: Settings) -> None:
    (status, headers, html), (_, _, config), (leaflet_status, _, _) = fetch(
        settings, "/", "/api/config", "/static/vendor/leaflet/leaflet.js"
    )
    assert status == 200
    assert 'dir="rtl"' in html
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert config["tile_url"] == "http://127.0.0.1:9/{z}/{x}/{y}.png"
    assert leaflet_status == 200


def test_the_serve_command_serves_the_page_and_the_api(tmp_path: Path) -> None:
    """`akhbar serve` as a user starts it: a child process on a free port, stopped with SIGINT (Ctrl-C)."""
    fill(tmp_path / "search.sqlite3")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKHBAR_")} | {"AKHBAR_DATA_DIR": str(tmp_path)}
    child = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        page = search = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and search is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                query = urllib.parse.quote("غزة")
                search = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q={query}").read())
            except OSError:
                assert child.poll() is None, child.communicate()[0].decode(errors="replace")
                time.sleep(0.2)
        assert page is not None and 'dir="rtl"' in page
        assert search is not None and [hit["title"] for hit in search["hits"]] == ["قصف على غزة"]
    finally:
        child.send_signal(signal.SIGINT)
        output = child.communicate(timeout=15)[0].decode(errors="replace")
    assert f"http://127.0.0.1:{port}/" in output and child.returncode == 0
