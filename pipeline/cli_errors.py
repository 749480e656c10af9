"""Command line: how `akhbar` and `akhbar dlq` report a bad argument or configuration, and exit (code 2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from pipeline.settings import Settings, load_settings
from processors.errors import ConfigError

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` whole (no wrapping, no markup: it holds paths and brackets); raise what this returns."""
    err.print(message, style="red", soft_wrap=True, markup=False, highlight=False)
    return typer.Exit(code)


def configuration_error(message: str) -> typer.Exit:
    return fail(f"configuration error: {message}")


def settings_or_exit(**overrides: object) -> Settings:
    """The validated settings (environment, then the ``overrides`` given), or exit naming what is wrong."""
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        raise configuration_error(str(exc)) from exc


def feeds_or_exit(path: Path) -> None:
    """Validate the feeds file at ``path``, or exit naming the file, the source and the field."""
    from connectors.config import load_feeds

    try:
        load_feeds(path)
    except ConfigError as exc:
        raise configuration_error(str(exc)) from exc


def days(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    """``--since``/``--until`` (YYYY-MM-DD, both optional) as dates, or exit saying which format they need."""
    try:
        first, last = (date.fromisoformat(day) if day else None for day in (since, until))
    except ValueError as exc:
        raise fail(f"--since/--until: {exc} (the format is YYYY-MM-DD)") from exc
    return first, last
