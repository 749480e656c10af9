"""`akhbar search`: the typer command over the embedded store (JSON and terminal output, bad options)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.search import SearchQuery, parse_when, search_command
from pipeline.sinks.embedded_sink import EmbeddedSink
from tests.unit.pipeline.sinks.factory import make_article


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("search")(search_command)
    app.command("noop")(lambda: None)  # two commands keep `search` a named sub-command, as in the real CLI
    return app


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    async def fill() -> None:
        sink = EmbeddedSink(tmp_path / "search.sqlite3")
        await sink.open()
        await sink.write(
            [
                make_article("https://a.com/1", title="قصف على غزة", source="a", events=["airstrike"]),
                make_article("https://b.com/2", title="اجتماع في القاهرة", text="عقد اجتماع في القاهرة.", source="b"),
            ]
        )
        await sink.close()

    asyncio.run(fill())
    return tmp_path


def invoke(app: typer.Typer, data_dir: Path, *args: str):
    env = {"AKHBAR_DATA_DIR": str(data_dir), "AKHBAR_ELASTICSEARCH_URL": ""}
    return CliRunner().invoke(app, ["search", *args], env=env)


def test_json_output(app: typer.Typer, data_dir: Path) -> None:
    result = invoke(app, data_dir, "غزة", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"] == 1
    assert body["hits"][0]["title"] == "قصف على غزة"
    assert ["غزة", True] in body["hits"][0]["title_highlight"]


def test_terminal_output_and_filters(app: typer.Typer, data_dir: Path) -> None:
    result = invoke(app, data_dir, "", "--source", "b", "--limit", "5")
    assert result.exit_code == 0, result.output
    assert "اجتماع في القاهرة" in result.output
    assert "قصف على غزة" not in result.output
    typed = invoke(app, data_dir, "", "--type", "airstrike", "--json")
    assert json.loads(typed.output)["total"] == 1


def test_missing_store_is_reported_not_raised(app: typer.Typer, tmp_path: Path) -> None:
    result = invoke(app, tmp_path / "empty", "غزة")
    assert result.exit_code == 2
    assert "no search store" in result.output


def test_bad_date_is_a_usage_error(app: typer.Typer, data_dir: Path) -> None:
    result = invoke(app, data_dir, "غزة", "--since", "yesterday-ish")
    assert result.exit_code == 2


def test_parse_when() -> None:
    assert parse_when("2024-11-14", name="--since") == datetime(2024, 11, 14, tzinfo=UTC)
    assert parse_when("2024-11-14", name="--until", end_of_day=True) == datetime(2024, 11, 15, tzinfo=UTC)
    recent = parse_when("24h", name="--since")
    assert recent is not None
    assert abs(datetime.now(UTC) - timedelta(hours=24) - recent) < timedelta(seconds=5)
    assert parse_when(None, name="--since") is None


def test_the_search_backend_keeps_one_searcher_and_sees_new_documents(tmp_path: Path) -> None:
    """The page's backend opens the store once; a store written after a first 'no store yet' is found."""
    from pipeline.search import SearchBackend
    from pipeline.settings import Settings
    from processors.errors import ConfigError
    from tests.unit.pipeline.sinks.test_embedded import write

    backend = SearchBackend(Settings(data_dir=tmp_path, elasticsearch_url=None))
    try:
        with pytest.raises(ConfigError, match="no search store"):
            asyncio.run(backend.search(SearchQuery(text="غزة")))
        write(tmp_path / "search.sqlite3", [make_article("https://a.com/1", title="غزة")])
        assert asyncio.run(backend.search(SearchQuery(text="غزة"))).total == 1
        searcher = backend._searcher
        write(tmp_path / "search.sqlite3", [make_article("https://a.com/2", title="غزة اليوم")])
        assert asyncio.run(backend.search(SearchQuery(text="غزة"))).total == 2
        assert backend._searcher is searcher  # the same searcher, refreshed with the new document only
    finally:
        backend.close()
