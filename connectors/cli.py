"""Connectors: `akhbar feeds check|list` — validate and test-fetch sources, show each source's health."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from connectors.base import Connector, ConnectorContext, PollReport
from connectors.common import AnySource
from connectors.config import FeedsFile, load_feeds
from connectors.http import HttpFetcher
from connectors.pages import PageFetcher
from connectors.runner import build_connector, collect
from connectors.state import SourceState, StateStore
from processors.errors import ConfigError
from processors.metrics import ago, span
from processors.records import RawArticle

feeds_app = typer.Typer(help="Check the news sources of the feeds file and show their health.", no_args_is_help=True)
ConfigOption = Annotated[Path | None, typer.Option("--config", help="feeds file (default: AKHBAR_FEEDS_CONFIG)")]
SAMPLE = 3


def _settings_default(name: str) -> object:
    from pipeline.settings import load_settings

    return getattr(load_settings(), name)


def _load(config: Path | None, console: Console) -> FeedsFile:
    path = config or Path(str(_settings_default("feeds_config")))
    try:
        return load_feeds(path)
    except ConfigError as exc:
        console.print(f"[red]config error[/red]\n{exc}", highlight=False)
        raise typer.Exit(2) from exc


class _Sample:
    """Stops a poll after ``SAMPLE`` articles (a web source would otherwise fetch every article page)."""

    def __init__(self, connector: Connector) -> None:
        self.source_id = connector.source_id
        self.inner = connector

    async def poll(self, report: PollReport) -> AsyncIterator[RawArticle]:
        count = 0
        async for article in self.inner.poll(report):
            yield article
            count += 1
            if count >= SAMPLE:
                return


async def check_source(source: AnySource, fetcher: HttpFetcher) -> tuple[PollReport, list[RawArticle]]:
    """Poll ``source`` once from a blank state without publishing; return the report and a few articles."""
    light = source.model_copy(update={"fetch_full_text": source.type == "web"})
    ctx = ConnectorContext(fetcher=fetcher, pages=PageFetcher(fetcher), state=SourceState(source.id))
    report = PollReport(source.id)
    sample, _ = await collect(_Sample(build_connector(light, ctx)), report)
    return report, sample


async def _check_all(
    feeds: FeedsFile, sources: list[AnySource], user_agent: str
) -> list[tuple[PollReport, list[RawArticle]]]:
    fetcher = HttpFetcher(feeds.fetch, user_agent)
    try:
        return await asyncio.gather(*(check_source(s, fetcher) for s in sources))
    finally:
        await fetcher.close()


def _print_check(console: Console, source: AnySource, report: PollReport, sample: list[RawArticle]) -> None:
    colour = "green" if report.status != "error" else "red"
    console.print(
        f"[bold]{source.id}[/bold] ({source.type}) [{colour}]{report.status}[/{colour}]"
        f"  http={report.http_status}  entries={report.entries}  encoding={report.encoding or '-'}"
        f"  last-modified={report.last_modified or '-'}",
        highlight=False,
    )
    for article in sample:
        when = article.published_at.isoformat() if article.published_at else "no date"
        console.print(f"    • {article.title[:90]}  [{when}]  {article.url}", highlight=False)
    for error in report.errors[:10]:
        console.print(f"    [yellow]! {error}[/yellow]", highlight=False)


@feeds_app.command("check")
def check(
    source_id: Annotated[str | None, typer.Argument(help="check only this source")] = None,
    config: ConfigOption = None,
) -> None:
    """Validate the feeds file, then fetch each enabled source (or SOURCE_ID) once and print what it holds."""
    console = Console()
    feeds = _load(config, console)
    sources = [s for s in feeds.sources if (s.id == source_id if source_id else s.enabled)]
    if source_id and not sources:
        console.print(f"[red]no source {source_id!r} in the feeds file[/red]")
        raise typer.Exit(2)
    console.print(f"feeds file valid: {len(feeds.sources)} sources, checking {len(sources)}")
    results = asyncio.run(_check_all(feeds, sources, str(_settings_default("user_agent"))))
    for source, (report, sample) in zip(sources, results, strict=True):
        _print_check(console, source, report, sample)
    failed = [s.id for s, (r, _) in zip(sources, results, strict=True) if r.status == "error"]
    if failed:
        console.print(f"[red]{len(failed)} source(s) failed: {', '.join(failed)}[/red]")
        raise typer.Exit(1)


def _until(moment: float | None) -> str:
    if not moment:
        return "-"
    seconds = moment - time.time()
    return f"in {span(seconds)}" if seconds > 0 else "due"


@feeds_app.command("list")
def list_sources(
    config: ConfigOption = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="default: AKHBAR_DATA_DIR")] = None,
) -> None:
    """Each source's health from the saved connector state (status, failures, last success, last error)."""
    console = Console()
    feeds = _load(config, console)
    directory = (data_dir or Path(str(_settings_default("data_dir")))) / "connectors"
    saved = {state.source_id: state for state in StateStore(directory).all_saved()}
    table = Table("id", "type", "status", "failures", "last poll", "next poll", "last success", "published",
                  "last error")  # fmt: skip
    for source in feeds.sources:
        state = saved.pop(source.id, None)
        health = state.health if state else None
        status = "disabled" if not source.enabled else (health.status if health else "never polled")
        colour = {"ok": "green", "failing": "yellow", "unhealthy": "red"}.get(status, "dim")
        table.add_row(
            source.id,
            source.type,
            f"[{colour}]{status}[/{colour}]",
            str(health.consecutive_failures if health else 0),
            ago(health.last_poll if health else None),
            _until(health.next_poll if health else None),  # later than the interval while backing off
            ago(health.last_success if health else None),
            str(health.published if health else 0),
            (health.last_error or "")[:80] if health else "",
        )
    for source_id, state in saved.items():
        table.add_row(source_id, "-", "[dim]not in file[/dim]", "", ago(state.health.last_poll), "", "", "", "")
    console.print(table)
