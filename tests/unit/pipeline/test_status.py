"""The status screen adds up every process's counters; freshness drives container healthchecks."""

from __future__ import annotations

import time

from rich.console import Console

from pipeline.status import TABLES_READY_GAUGE, embedded_bootstrap, fresh, render, totals
from processors.metrics import Counters, read_snapshots


def test_snapshots_are_summed_and_rendered(tmp_path):
    worker, connectors = Counters("worker"), Counters("connectors")
    connectors.inc("connector", "published", 7)
    connectors.set("source.aljazeera", {"status": "ok", "published": 7, "last_poll": time.time() - 120})
    worker.inc("extract", "in", 7)
    worker.inc("extract", "dropped.not_arabic", 2)
    worker.inc("parse", "dead_letter")
    worker.inc("index", "out", 4)
    worker.write(tmp_path)
    connectors.write(tmp_path)
    total = totals(read_snapshots(tmp_path))
    assert total["connector.published"] == 7 and total["index.out"] == 4
    console = Console(record=True, width=120)
    console.print(render(tmp_path))
    screen = console.export_text()
    assert "not_arabic" in screen and "dead letters: parse" in screen and "aljazeera" in screen
    assert "2m ago" in screen
    assert "recovering" not in screen  # a worker that has not said (older snapshots) is not shown as recovering


def test_a_worker_recovering_its_tables_says_so(tmp_path):
    """A week of state takes Faust minutes to recover: the operator sees why nothing moves meanwhile."""
    worker = Counters("worker")
    worker.set(TABLES_READY_GAUGE, None)
    worker.write(tmp_path)
    console = Console(record=True, width=160)
    console.print(render(tmp_path))
    assert "recovering its tables" in console.export_text()
    worker.set(TABLES_READY_GAUGE, time.time())
    worker.write(tmp_path)
    console = Console(record=True, width=160)
    console.print(render(tmp_path))
    assert "recovering" not in console.export_text()


def test_the_embedded_brokers_memory_is_shown_per_article(tmp_path):
    worker, broker = Counters("worker"), Counters("broker", pid=4242)
    worker.inc("extract", "in", 1000)
    broker.set("broker.resident_bytes", 100 * 2**20)
    worker.write(tmp_path)
    console = Console(record=True, width=120)
    console.print(render(tmp_path))
    assert "embedded broker memory" not in console.export_text()  # no broker snapshot: no line
    broker.write(tmp_path)
    console.print(render(tmp_path))
    screen = console.export_text()
    assert "embedded broker memory: 100 MB, 102 KB per article in" in screen and "4242" in screen


def test_the_brokers_memory_per_article_counts_its_growth_only(tmp_path):
    worker, broker = Counters("worker"), Counters("broker", pid=4242)
    worker.inc("extract", "in", 1000)
    broker.set("broker.resident_bytes_at_start", 60 * 2**20)  # the empty broker's footprint
    broker.set("broker.resident_bytes", 160 * 2**20)
    worker.write(tmp_path)
    broker.write(tmp_path)
    console = Console(record=True, width=120)
    console.print(render(tmp_path))
    assert "embedded broker memory: 160 MB, 102 KB per article in" in console.export_text()


def test_fresh_only_for_recent_snapshots(tmp_path):
    counters = Counters("worker")
    counters.write(tmp_path)
    assert fresh(tmp_path, "worker")
    assert not fresh(tmp_path, "connectors")
    assert not fresh(tmp_path, "worker", max_age=-1)
    (tmp_path / "broken.json").write_text("{half", encoding="utf-8")
    assert [s["process"] for s in read_snapshots(tmp_path)] == ["worker"]
    assert time.time() - read_snapshots(tmp_path)[0]["updated_at"] < 5


def test_the_embedded_brokers_address_is_found_only_while_akhbar_run_writes_it(tmp_path):
    assert embedded_bootstrap(tmp_path) is None
    Counters("worker").write(tmp_path)
    assert embedded_bootstrap(tmp_path) is None
    broker = Counters("broker")
    broker.set("broker.bootstrap", "127.0.0.1:40111")
    broker.write(tmp_path)
    assert embedded_bootstrap(tmp_path) == "127.0.0.1:40111"
    assert embedded_bootstrap(tmp_path, max_age=-1) is None  # a snapshot left by a run that has stopped


def test_after_a_rotation_the_memory_per_article_counts_the_new_brokers_articles_only(tmp_path):
    worker, broker = Counters("worker"), Counters("broker", pid=4343)
    worker.inc("extract", "in", 5000)
    broker.set("broker.articles_before", 4000)  # went through the broker before it was emptied
    broker.set("broker.resident_bytes_at_start", 60 * 2**20)
    broker.set("broker.resident_bytes", 160 * 2**20)
    broker.set("broker.rotations", 2)
    broker.set("broker.rotate_at_bytes", 2048 * 2**20)
    broker.set("broker.last_rotated_at", time.time() - 180)
    worker.write(tmp_path)
    broker.write(tmp_path)
    console = Console(record=True, width=200)
    console.print(render(tmp_path))
    screen = console.export_text()
    assert "embedded broker memory: 160 MB, 102 KB per article in" in screen
    assert "restarted empty 2 times, last 3m ago" in screen and "emptied once idle after 2,048 MB of growth" in screen
