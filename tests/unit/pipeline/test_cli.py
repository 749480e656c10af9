"""The command line: every command is listed, configuration errors are one clear message and exit code 2."""

from __future__ import annotations

import io

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


def test_a_mistyped_day_is_reported_before_anything_else(monkeypatch, tmp_path):
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(tmp_path))
    for args in (["replay", "--since", "2026-13-01"], ["dlq", "list", "--until", "yesterday"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "--since/--until" in result.output and "YYYY-MM-DD" in result.output
        assert "configuration error" not in result.output and "AKHBAR_KAFKA_BOOTSTRAP" not in result.output
    nothing_running = runner.invoke(app, ["replay", "--since", "2026-11-01"])
    assert nothing_running.exit_code == 2 and "configuration error: replay feeds a running" in nothing_running.output


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


@pytest.mark.parametrize("stdin", ["pipe", "file"])
def test_process_reads_stdin_and_writes_the_output_contract(tmp_path, stdin):
    """`akhbar process` as a user pipes it (a line at a time) or redirects a file into it (in batches): minimal
    lines, a reprint, a malformed line, a short text."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    # The annotated set's first article is the real sample of shared/samples, copied into the repository.
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "enrich" / "articles"
    text = yaml.safe_load(sorted(fixture.glob("*.yaml"))[0].read_text(encoding="utf-8"))["text"]
    lines = [
        json.dumps({"title": "غارات على دير الزور", "text": text}, ensure_ascii=False),
        json.dumps({"title": "نسخة", "text": text, "url": "https://copy.example/1", "source": "copier"}),
        "{not json",
        json.dumps({"title": "خبر", "text": "قصف."}, ensure_ascii=False),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKHBAR_")} | {"AKHBAR_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "pipeline.cli", "process"]
    if stdin == "pipe":
        done = subprocess.run(command, input="\n".join(lines), env=env, capture_output=True, text=True, timeout=120)
    else:
        (tmp_path / "in.jsonl").write_text("\n".join(lines), encoding="utf-8")
        with (tmp_path / "in.jsonl").open("rb") as file:
            done = subprocess.run(command, stdin=file, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, copy, bad, short = [json.loads(line) for line in done.stdout.splitlines()]
    contract = {"id", "url", "source", "title", "text", "language", "published_at", "entities", "places", "events",
                "casualties", "dates", "dedup"}  # fmt: skip
    assert contract <= first.keys() and first["language"] == "ar"
    assert set(first["dedup"]) >= {"status", "duplicate_of", "similarity", "cluster_id"}
    assert set(first["casualties"]) == {"killed", "injured"}
    assert all({"text", "type", "start", "end", "field"} <= e.keys() for e in first["entities"])
    assert any(p["country_code"] == "SY" and p["lat"] and p["lon"] for p in first["places"])
    assert all({"type", "trigger", "start", "end"} <= e.keys() for e in first["events"])
    assert copy["dedup"]["status"] == "duplicate" and copy["dedup"]["duplicate_of"] == first["id"]
    assert bad["line"] == 3 and bad["status"] == "error" and bad["error"]["stage"] == "parse"
    assert short == {"line": 4, "status": "dropped", "reason": "too_short"}


def test_process_batches_a_file_and_answers_a_pipe_line_by_line(tmp_path):
    import os

    from pipeline.cli import _is_file

    (tmp_path / "in.jsonl").write_text("{}\n", encoding="utf-8")
    with (tmp_path / "in.jsonl").open(encoding="utf-8") as file:
        assert _is_file(file)
    read, write = os.pipe()
    with os.fdopen(read) as pipe, os.fdopen(write, "w"):
        assert not _is_file(pipe)
    assert not _is_file(io.StringIO("{}"))
