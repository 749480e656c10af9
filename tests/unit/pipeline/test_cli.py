"""The command line: every command is listed, configuration errors are one clear message and exit code 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from processors.metrics import Counters

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("AKHBAR_KAFKA_BOOTSTRAP", "AKHBAR_ELASTICSEARCH_URL", "AKHBAR_FEEDS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(tmp_path / "data"))


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "worker", "connectors", "process", "status", "search", "serve", "setup", "feeds", "replay"):
        assert command in result.output


def test_run_refuses_a_bad_feeds_file(tmp_path):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text('sources:\n  - {id: x, name: y, type: rss, url: "ftp://nope"}\n', encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(feeds), "--no-live"])
    assert result.exit_code == 2
    assert str(feeds) in result.output and "source 'x', field 'url'" in result.output


def test_worker_and_connectors_need_a_broker(tmp_path):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("sources: []\n", encoding="utf-8")
    for args in (["worker"], ["connectors", "--config", str(feeds)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "AKHBAR_KAFKA_BOOTSTRAP" in result.output


def test_bad_environment_is_reported(monkeypatch):
    monkeypatch.setenv("AKHBAR_SESSION_TIMEOUT", "-1")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2 and "AKHBAR_SESSION_TIMEOUT" in result.output


def test_status_check_follows_the_snapshot(tmp_path):
    assert runner.invoke(app, ["status", "--check", "worker"]).exit_code == 1
    Counters("worker").write(tmp_path / "data" / "stats")
    assert runner.invoke(app, ["status", "--check", "worker"]).exit_code == 0
    shown = runner.invoke(app, ["status"])
    assert shown.exit_code == 0 and "worker" in shown.output
