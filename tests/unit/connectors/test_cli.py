"""`akhbar feeds check` and `akhbar feeds list`."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from connectors.cli import feeds_app
from connectors.state import StateStore
from tests.unit.connectors.conftest import FeedServer, Reply

runner = CliRunner()


def write(path: Path, sources: list[dict]) -> Path:
    path.write_text(
        yaml.safe_dump({"fetch": {"timeout": 2, "min_delay": 0}, "sources": sources}, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def rss(server: FeedServer, source_id: str, path: str, **extra: object) -> dict:
    return {"id": source_id, "name": source_id, "type": "rss", "url": server.url(path), "allow_private": True} | extra


def test_check_prints_entries_encoding_and_last_modified(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.route(
        "/legacy",
        Reply(
            feed_server.fixture("rss_windows1256.xml"),
            last_modified="Wed, 13 Nov 2024 08:00:00 GMT",
            headers={"Content-Type": "application/rss+xml"},
        ),
    )
    config = write(tmp_path / "feeds.yaml", [rss(feed_server, "legacy", "/legacy")])
    result = runner.invoke(feeds_app, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "entries=3" in flat and "encoding=cp1256" in flat
    assert "last-modified=Wed, 13 Nov 2024 08:00:00 GMT" in flat
    assert "غارات جديدة على مواقع في دير الزور" in flat


def test_check_one_source_and_failures_exit_non_zero(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.serve_file("/ok", "atom_utf8.xml", "application/atom+xml")
    config = write(tmp_path / "feeds.yaml", [rss(feed_server, "ok", "/ok"), rss(feed_server, "broken", "/missing")])
    only = runner.invoke(feeds_app, ["check", "ok", "--config", str(config)])
    assert only.exit_code == 0 and "broken" not in only.output
    both = runner.invoke(feeds_app, ["check", "--config", str(config)])
    assert both.exit_code == 1 and "HTTP 404" in both.output
    unknown = runner.invoke(feeds_app, ["check", "nope", "--config", str(config)])
    assert unknown.exit_code == 2 and "no source 'nope'" in unknown.output


def test_check_config_error_names_file_source_and_field(tmp_path: Path) -> None:
    config = write(tmp_path / "feeds.yaml", [{"id": "bad", "name": "x", "type": "rss", "url": "not a url"}])
    result = runner.invoke(feeds_app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert str(config.name) in flat and "'bad'" in flat and "'url'" in flat


def test_list_shows_health_from_saved_state(tmp_path: Path) -> None:
    config = write(
        tmp_path / "feeds.yaml",
        [
            {"id": "good", "name": "g", "type": "rss", "url": "https://a.example/rss"},
            {"id": "sick", "name": "s", "type": "rss", "url": "https://b.example/rss"},
            {"id": "off", "name": "o", "type": "rss", "url": "https://c.example/rss", "enabled": False},
            {"id": "fresh", "name": "f", "type": "rss", "url": "https://d.example/rss"},
        ],
    )
    store = StateStore(tmp_path / "data" / "connectors")
    store.get("good").health.record_success(1e9)
    for _ in range(6):
        store.get("sick").health.record_failure("HTTP 503 from https://b.example/rss", 1e9)
    store.get("sick").health.next_poll = time.time() + 3 * 3600  # backing off
    for source_id in ("good", "sick"):
        store.mark_dirty(source_id)
    store.flush()
    result = runner.invoke(
        feeds_app, ["list", "--config", str(config), "--data-dir", str(tmp_path / "data")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "ok" in rows["good"] and "unhealthy" in rows["sick"] and "HTTP 503" in rows["sick"]
    assert "disabled" in rows["off"] and "never polled" in rows["fresh"]
    assert "in 3h" in rows["sick"]
