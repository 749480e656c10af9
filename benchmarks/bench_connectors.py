"""Benchmark: feeds per second one connector process polls, against a local server holding 1,000 feeds.

Two paths: unchanged feeds (conditional GET answered 304) and changed feeds (a new body each poll with one
new article among ten: decode, parse, publish, remember). The server runs in its own process so the
connector's event loop has one core to itself. Publishing goes to an in-memory publisher here (the Kafka
producer's own rate is measured in NOTES.md §1: 10–15k msg/s); state files are flushed as in production.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from connectors.base import ConnectorContext
from connectors.config import FetchPolicy, RssSource
from connectors.http import HttpFetcher
from connectors.pages import PageFetcher
from connectors.runner import build_connector, poll_once
from connectors.state import StateStore
from processors.metrics import Counters
from processors.records import RawArticle

FEEDS = 1000
ITEMS = 10
ITEM = (
    "<item><title>خبر رقم {n}: غارات جديدة على مواقع في دير الزور شرق سوريا</title>"
    "<link>http://127.0.0.1/news/{n}</link><guid>item-{n}</guid>"
    "<description>شنت الطائرات الحربية غارات جديدة استهدفت مواقع في دير الزور، شرق سوريا، "
    "وأكدت القيادة عدم وقوع إصابات أو أضرار في منشآتها.</description>"
    "<pubDate>Wed, 13 Nov 2024 08:30:00 +0300</pubDate></item>"
)


def _feed(first: int) -> bytes:
    items = "".join(ITEM.format(n=n) for n in range(first, first + ITEMS))
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>اختبار</title>'
    return f"{head}{items}</channel></rss>".encode()


def _serve(port_queue: Any) -> None:
    """The feed server (child process): /same/N answers 304 to its ETag, /changing/N changes every time."""
    same = _feed(0)
    counters: dict[str, int] = {}

    async def unchanged(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=same, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    async def changing(request: web.Request) -> web.Response:
        path = request.path
        counters[path] = counters.get(path, 0) + 1
        body = _feed(counters[path] + int(request.match_info["n"]) * 10_000_000)
        return web.Response(body=body, headers={"ETag": f'"c{counters[path]}"', "Content-Type": "application/rss+xml"})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/same/{n}", unchanged)
        app.router.add_get("/changing/{n}", changing)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


class CountingPublisher:
    def __init__(self) -> None:
        self.count = 0

    async def publish(self, articles: Sequence[RawArticle]) -> None:
        self.count += len(articles)

    async def close(self) -> None:
        return None


async def _rounds(base: str, path: str, rounds: int, state_dir: Path) -> tuple[list[float], int]:
    policy = FetchPolicy(timeout=30, min_delay=0, max_per_host=16)
    fetcher = HttpFetcher(policy, "akhbar-bench/1.0")
    store = StateStore(state_dir)
    publisher = CountingPublisher()
    counters = Counters("bench")
    pollers = []
    for n in range(FEEDS):
        source = RssSource(id=f"f{n}", name="f", type="rss", url=f"{base}/{path}/{n}", allow_private=True)  # type: ignore[arg-type]
        ctx = ConnectorContext(fetcher=fetcher, pages=PageFetcher(fetcher), state=store.get(source.id))
        pollers.append((source, build_connector(source, ctx), ctx.state))

    async def one_round() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(poll_once(s, c, st, publisher, counters) for s, c, st in pollers))
        for source, _, _ in pollers:
            store.mark_dirty(source.id)
        store.flush()
        return FEEDS / (time.perf_counter() - started)

    try:
        await one_round()  # warm-up: first full fetch, connections opened, validators stored
        publisher.count = 0
        rates = [await one_round() for _ in range(rounds)]
    finally:
        await fetcher.close()
    errors = counters.get("connector", "fetch_error")
    if errors:
        raise RuntimeError(f"{errors} fetch errors during the benchmark")
    return rates, publisher.count


def run(quick: bool = False) -> list[dict]:
    rounds = 3 if quick else 5
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    server = context.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=30)}"
        rows = []
        for label, path, target in (("unchanged (304)", "same", ">= 200 feeds/s"), ("changed", "changing", "")):
            with tempfile.TemporaryDirectory() as state_dir:
                rates, published = asyncio.run(_rounds(base, path, rounds, Path(state_dir)))
            rows.append(
                {
                    "bench": "connectors",
                    "metric": f"feeds polled per second, {label}, {FEEDS} feeds",
                    "value": statistics.median(rates),
                    "unit": "feeds/s",
                    "target": target,
                }
            )
            if path == "changing":
                rows.append(
                    {
                        "bench": "connectors",
                        "metric": "articles published per changed poll",
                        "value": published / (FEEDS * rounds),
                        "unit": "articles",
                        "target": "1 (one new item per poll)",
                    }
                )
        return rows
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
