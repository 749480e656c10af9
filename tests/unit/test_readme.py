"""The README's examples are real: its feeds.yaml snippet validates, and the commands it shows exist."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from connectors.config import load_feeds
from pipeline.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_feeds_example_validates_and_covers_every_type(tmp_path: Path) -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    path = tmp_path / "feeds.yaml"
    path.write_text(block, encoding="utf-8")
    feeds = load_feeds(path)
    assert sorted(source.type for source in feeds.sources) == ["rss", "sitemap", "web"]


def test_every_akhbar_command_the_readme_shows_exists() -> None:
    shown = set(re.findall(r"^ {4,}akhbar ([a-z]+)", README.read_text(encoding="utf-8"), flags=re.M))
    assert {"search", "serve", "feeds", "status", "replay", "process", "worker", "connectors", "dlq"} <= shown
    for command in sorted(shown):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, f"akhbar {command}: {result.output}"


def test_no_placeholder_is_left_in_the_docs() -> None:
    for path in (README, README.parent / "docs" / "benchmarks.md", README.parent / "docs" / "deployment.md"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\b[A-Z]+_TABLE\b|\bTODO\b|\bTBD\b|XXX", text), path.name
