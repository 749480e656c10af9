"""Benchmark child (`make bench`, bench_tables): the worker's two tables at production size, in a Faust app.

``fill`` writes N articles' entries (the layout `processors.dedup` and `processors.cluster` store: one dedup
record and one cluster record per article), then rewrites both tables as the worker does under a new broker
(`pipeline.agents.rewrite_table`); ``recover`` starts on the same broker and counts what Faust recovered.
Each phase writes its timings to ``<data>/<phase>.json`` once the first message of news.raw.v1 reaches it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import faust
import numpy as np

from pipeline.agents import REWRITE_YIELD_EVERY, rewrite_table
from pipeline.app import create_app, declare_tables, declare_topics
from pipeline.faust_fixes import apply as apply_faust_fixes
from pipeline.faust_fixes import as_current_event
from pipeline.settings import Settings
from pipeline.worker import faust_worker


def entries(count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(dedup, cluster) entries of ``count`` articles, shaped and sized as the stages write them."""
    rng = np.random.default_rng(1)
    signature = base64.b64encode(rng.integers(0, 2**32, 128, dtype=np.uint32).astype("<u4").tobytes()).decode()
    words = np.sort(rng.integers(0, 2**32, 400, dtype=np.uint32)).astype("<u4").tobytes()
    now = time.time()
    dedup: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    for n in range(count):
        article = f"{n:064x}"
        dedup[f"a:{article}"] = {"status": "unique", "duplicate_of": None, "similarity": None, "cluster_id": article,
                                 "root": article, "t": now, "n": 900, "sig": signature, "h": f"{n:064x}"}  # fmt: skip
        clusters[f"s:{article}"] = {"c": article, "t": now, "k": ["place:360630", "per:x", "org:y"],
                                    "w": base64.b64encode(words).decode()}  # fmt: skip
    return dedup, clusters


async def fill(app: faust.App, tables: tuple[Any, Any], count: int, event: faust.EventT) -> dict[str, float]:
    dedup_entries, cluster_entries = entries(count)
    started = time.monotonic()
    with as_current_event(event):
        for table, values in zip(tables, (dedup_entries, cluster_entries), strict=True):
            for done, (key, value) in enumerate(values.items(), start=1):
                table[key] = value
                if done % REWRITE_YIELD_EVERY == 0:  # as the rewrite: let the producer send
                    await asyncio.sleep(0)
    await app.producer.flush()
    filled = time.monotonic() - started
    started = time.monotonic()
    rewritten = sum([await rewrite_table(table, event) for table in tables])
    await app.producer.flush()
    return {"fill_s": filled, "rewrite_s": time.monotonic() - started, "records": rewritten}


def main() -> None:
    phase, bootstrap, count, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    settings = Settings(data_dir=data, kafka_bootstrap=bootstrap)
    apply_faust_fixes(settings.fetch_max_wait_ms)
    app = create_app(settings, bootstrap)
    topics = declare_topics(app, settings)
    tables = declare_tables(app, settings)
    started = time.monotonic()

    async def first_message(stream: faust.StreamT) -> None:
        async for event in stream.events():
            result: dict[str, float] = {"ready_s": time.monotonic() - started, "recovered": sum(map(len, tables)),
                                        "cpu_ready_s": time.process_time()}  # fmt: skip
            if phase == "fill":
                result |= await fill(app, tables, count, event)
            result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            (data / f"{phase}.json").write_text(json.dumps(result))

    app.agent(topics.raw, name="process_raw")(first_message)
    faust_worker(app, "WARNING").execute_from_commandline()


if __name__ == "__main__":
    main()
