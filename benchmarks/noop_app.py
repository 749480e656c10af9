"""Benchmark ceiling: a no-op Faust agent on the same broker and settings as the pipeline (`make bench` (c))."""

from __future__ import annotations

import time

import faust

from pipeline.app import create_app
from pipeline.settings import load_settings
from processors.metrics import Counters

NOOP_TOPIC = "bench.noop.v1"


def main() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap, "AKHBAR_KAFKA_BOOTSTRAP must be set"
    app = create_app(settings, settings.kafka_bootstrap)
    topic = app.topic(NOOP_TOPIC, key_type=bytes, value_type=bytes, value_serializer="raw", partitions=1)
    counters = Counters("noop")

    async def noop(stream: faust.StreamT) -> None:
        async for _event in stream.events():
            counters.inc("noop", "in")
            counters.set("noop.last_at", time.time())

    async def write_stats() -> None:
        counters.write(settings.stats_dir)

    app.agent(topic, name="noop")(noop)
    app.timer(0.5, name="write_stats")(write_stats)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.spinner = None  # as the pipeline's worker (pipeline/worker.py): no DEBUG root logger for a spinner
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
