"""Command line: `akhbar` (typer) — run, worker, connectors, process, search, serve, feeds, dlq, status, setup.

Each command validates its configuration once (environment + feeds file) and reports a ``ConfigError`` as one
clear message and exit code 2; heavy modules are imported inside the commands, never at import time.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.cli_errors import configuration_error, days, feeds_or_exit, settings_or_exit
from pipeline.runtime import tune_collector

app = typer.Typer(
    name="akhbar",
    help="Arabic news → structured, searchable events (Kafka + Faust + Elasticsearch).",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="feeds file (default: $AKHBAR_FEEDS_CONFIG)")]


OFFLINE_BATCH = 32  # lines `akhbar process` takes at a time from a file (as the worker's stage batch)


def _is_file(stream: object) -> bool:
    """Whether ``stream`` reads a regular file (not a pipe or a terminal, which may wait for their next line)."""
    import os
    import stat

    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # no descriptor (a test's StringIO), or closed
        return False


def _logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@app.command()
def run(
    config: ConfigOption = None,
    no_live: Annotated[bool, typer.Option("--no-live", help="no live status screen")] = False,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
) -> None:
    """The whole pipeline on this machine: broker (embedded unless configured), connectors, worker, sink."""
    from pipeline.supervisor import Supervisor

    settings = settings_or_exit(feeds_config=config)
    feeds_or_exit(settings.feeds_config)
    code = Supervisor(settings, settings.feeds_config).run(live=not no_live, duration=duration)
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """The Faust worker alone (dedup, extraction, enrichment, indexing); needs AKHBAR_KAFKA_BOOTSTRAP."""
    settings = settings_or_exit()
    if not settings.kafka_bootstrap:
        raise configuration_error("AKHBAR_KAFKA_BOOTSTRAP is required (or use `akhbar run`)")
    from pipeline.worker import run_worker

    run_worker(settings, settings.kafka_bootstrap)


@app.command()
def connectors(config: ConfigOption = None) -> None:
    """The connectors alone: poll the sources of the feeds file and publish to news.raw.v1."""
    from connectors.service import run_connectors
    from processors.metrics import Counters

    settings = settings_or_exit(feeds_config=config)
    feeds_or_exit(settings.feeds_config)
    if not settings.kafka_bootstrap:
        raise configuration_error("AKHBAR_KAFKA_BOOTSTRAP is required (or use `akhbar run`)")
    _logging(settings.log_level)

    counters = Counters("connectors")
    if settings.metrics_port:
        from pipeline.observability import serve_observability

        serve_observability(counters, settings.metrics_port, settings.metrics_host)

    async def main(bootstrap: str) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_connectors(bootstrap=bootstrap, feeds_path=settings.feeds_config, data_dir=settings.data_dir,
                             counters=counters, stop=stop, user_agent=settings.user_agent,
                             compression_type=settings.compression_type)  # fmt: skip

    asyncio.run(main(settings.kafka_bootstrap))


@app.command()
def process(
    keep_non_arabic: Annotated[bool, typer.Option(help="keep non-Arabic articles instead of dropping")] = False,
) -> None:
    """Offline: raw articles as JSON lines on stdin → one enriched JSON line per input on stdout."""
    import json

    from pipeline.offline import process_lines
    from pipeline.worker import chain_config
    from processors.chain import ArticleChain

    settings = settings_or_exit(keep_non_arabic=keep_non_arabic or None)
    chain = ArticleChain(chain_config(settings))
    batch = OFFLINE_BATCH if _is_file(sys.stdin) else 1  # a pipe may be fed slowly: answer each line at once
    for result in process_lines(sys.stdin, chain, batch):
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()


@app.command()
def status(
    check: Annotated[str | None, typer.Option(help="exit 0 only if this process reported recently")] = None,
) -> None:
    """One-screen summary of a running pipeline (from the processes' counter snapshots)."""
    from pipeline.status import fresh, render

    settings = settings_or_exit()
    if check:
        raise typer.Exit(0 if fresh(settings.stats_dir, check) else 1)
    Console().print(render(settings.stats_dir))


@app.command()
def replay(
    from_topic: Annotated[bool, typer.Option("--from-topic", help="read news.raw.v1 instead of the archive")] = False,
    since: Annotated[str | None, typer.Option(help="archive day YYYY-MM-DD (inclusive)")] = None,
    until: Annotated[str | None, typer.Option(help="archive day YYYY-MM-DD (inclusive)")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="only this source id (repeatable)")] = None,
) -> None:
    """Re-process raw articles (e.g. after an extractor improves): republish them to news.raw.v1, idempotently."""
    from pipeline.replay import archived, republish
    from pipeline.replay import from_topic as topic_records
    from pipeline.status import bootstrap_to_feed

    first, last = days(since, until)  # a mistyped day is reported whether or not a pipeline runs
    settings = settings_or_exit()
    bootstrap = bootstrap_to_feed(settings)
    if not bootstrap:
        raise configuration_error(
            "replay feeds a running pipeline: set AKHBAR_KAFKA_BOOTSTRAP, or start `akhbar run` first"
        )
    sources = set(source or [])
    records = topic_records(bootstrap, sources) if from_topic else archived(settings.archive_dir, first, last, sources)
    sent = republish(bootstrap, records, compression_type=settings.compression_type)
    typer.echo(f"replay: {sent} raw articles republished to news.raw.v1")


def _register_area_commands() -> None:
    """Commands whose options live beside their code (search, serve, setup, feeds, dlq)."""
    from connectors.cli import feeds_app
    from pipeline.dlq_cli import dlq_app
    from pipeline.search import search_command
    from pipeline.setup import setup_command
    from pipeline.web.server import serve_command

    app.command("search")(search_command)
    app.command("serve")(serve_command)
    app.command("setup")(setup_command)
    app.add_typer(feeds_app, name="feeds", help="Validate, test-fetch and list the sources of config/feeds.yaml.")
    app.add_typer(dlq_app, name="dlq", help="List, show and redrive the dead letters (what could not be processed).")


_register_area_commands()


def main() -> None:
    tune_collector()
    app()


if __name__ == "__main__":
    main()
