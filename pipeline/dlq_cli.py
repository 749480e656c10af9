"""Dead letters: `akhbar dlq list|show|redrive` — what the pipeline could not process, why, and sending it back."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli_errors import days, fail, settings_or_exit
from pipeline.dead_letters import LetterFilter, letters_from_topic, read_letters, redrive, select
from pipeline.settings import Settings
from pipeline.status import bootstrap_to_feed
from processors.records import DeadLetter

dlq_app = typer.Typer(help="List, show and redrive the dead letters (news.dlq.v1).", no_args_is_help=True)

FromTopic = Annotated[
    bool, typer.Option("--from-topic", help="read news.dlq.v1 instead of this machine's archive (data/dead-letters)")
]
Stage = Annotated[list[str] | None, typer.Option("--stage", help="only this stage (repeatable): parse, extract, …")]
Since = Annotated[str | None, typer.Option(help="failed on or after this day, YYYY-MM-DD")]
Until = Annotated[str | None, typer.Option(help="failed on or before this day, YYYY-MM-DD")]


def _filter(stage: list[str] | None, since: str | None, until: str | None, article: str | None = None) -> LetterFilter:
    first, last = days(since, until)
    return LetterFilter(frozenset(stage or ()), first, last, article)


def _letters(settings: Settings, from_topic: bool, chosen: LetterFilter) -> list[DeadLetter]:
    if not from_topic:
        return select(read_letters(settings.dead_letter_dir, chosen.since, chosen.until), chosen)
    bootstrap = bootstrap_to_feed(settings)
    if not bootstrap:
        raise fail("--from-topic reads a running broker: set AKHBAR_KAFKA_BOOTSTRAP, or start `akhbar run` first")
    return select(letters_from_topic(bootstrap), chosen)


@dlq_app.command("list")
def list_letters(
    from_topic: FromTopic = False, stage: Stage = None, since: Since = None, until: Until = None,
    limit: Annotated[int, typer.Option(min=1, help="the newest this many")] = 50,
) -> None:  # fmt: skip
    """The dead letters, newest last, with a count per stage and reason."""
    letters = _letters(settings_or_exit(), from_topic, _filter(stage, since, until))
    console = Console()
    if not letters:
        console.print("no dead letters")
        return
    table = Table("failed at (UTC)", "stage", "error", "article", "from", "reason")
    for letter in letters[-limit:]:
        where = f"{letter.topic}[{letter.partition}]@{letter.offset}" if letter.topic else "-"
        table.add_row(letter.failed_at.strftime("%Y-%m-%d %H:%M:%S"), letter.stage, letter.error_type,
                      (letter.article_id or "-")[:16], where, letter.reason[:100])  # fmt: skip
    console.print(table)
    by_reason = Counter((letter.stage, letter.reason[:80]) for letter in letters)
    console.print(f"{len(letters)} dead letters" + (f", the newest {limit} shown" if len(letters) > limit else ""))
    for (letter_stage, reason), count in by_reason.most_common(10):
        console.print(f"  {count:>6}  {letter_stage}: {reason}", highlight=False, markup=False)


@dlq_app.command("show")
def show(
    article: Annotated[str, typer.Argument(help="article id, or its first characters")],
    from_topic: FromTopic = False,
) -> None:
    """Every dead letter of one article, whole (reason and original payload), as JSON lines."""
    letters = _letters(settings_or_exit(), from_topic, LetterFilter(article=article))
    if not letters:
        raise fail(f"no dead letter for an article id starting {article!r}")
    for letter in letters:
        typer.echo(json.dumps(letter.model_dump(mode="json"), ensure_ascii=False))


@dlq_app.command("redrive")
def redrive_letters(
    from_topic: FromTopic = False, stage: Stage = None, since: Since = None, until: Until = None,
    article: Annotated[str | None, typer.Option(help="only this article id (or its first characters)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be sent, send nothing")] = False,
) -> None:  # fmt: skip
    """Send dead letters' original messages back to the topics they came from (after a fix); idempotent."""
    settings = settings_or_exit()
    bootstrap = bootstrap_to_feed(settings)
    if not bootstrap and not dry_run:
        raise fail("redrive feeds a running pipeline: set AKHBAR_KAFKA_BOOTSTRAP, or start `akhbar run` first")
    letters = _letters(settings, from_topic, _filter(stage, since, until, article))
    done = redrive(None if dry_run else bootstrap, letters, compression_type=settings.compression_type)
    verb = "would be sent" if dry_run else "sent"
    for topic, count in sorted(done.sent.items()):
        typer.echo(f"redrive: {count} {verb} to {topic}")
    for letter, reason in done.skipped:
        typer.echo(f"redrive: left {letter.article_id or '-'} ({letter.stage}): {reason}")
    typer.echo(f"redrive: {sum(done.sent.values())} {verb}, {len(done.skipped)} left, of {len(letters)} letters")
