"""The supervisor restarts a crashed child unless it is crash-looping."""

from __future__ import annotations

import io
import time
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from pipeline.settings import Settings
from pipeline.status import TABLES_READY_GAUGE
from pipeline.supervisor import CRASH_WINDOW, MAX_CRASHES, Child, Supervisor
from processors.metrics import Counters, read_snapshots


def test_crash_loop_detection_is_windowed():
    child = Child("worker", ["worker"], Path("/dev/null"))
    assert not any(child.crash_looping(float(t)) for t in range(MAX_CRASHES))
    assert child.crash_looping(float(MAX_CRASHES))
    later = MAX_CRASHES + CRASH_WINDOW + 1.0
    assert not child.crash_looping(later)  # old crashes age out of the window
    assert len(child.crashes) == 1


def test_the_embedded_brokers_memory_reaches_the_status_files(tmp_path):
    """Tansu keeps every message in memory until it stops: the supervisor publishes its resident size for
    `akhbar status`, under the broker's own pid, and starts a new snapshot when the broker is restarted."""
    supervisor = Supervisor(Settings(data_dir=tmp_path), tmp_path / "feeds.yaml", Console(file=io.StringIO()))
    supervisor.broker = SimpleNamespace(process=SimpleNamespace(pid=4242), resident_bytes=lambda: 300 << 20,
                                        bootstrap="127.0.0.1:9")  # fmt: skip
    supervisor._write_broker_stats()
    (snapshot,) = read_snapshots(supervisor.settings.stats_dir)
    assert (snapshot["process"], snapshot["pid"]) == ("broker", 4242)
    assert snapshot["gauges"]["broker.resident_bytes"] == 300 << 20
    assert snapshot["gauges"]["broker.bootstrap"] == "127.0.0.1:9"  # for `akhbar replay` and `akhbar dlq redrive`
    supervisor.broker = SimpleNamespace(process=SimpleNamespace(pid=4343), resident_bytes=lambda: 20 << 20,
                                        bootstrap="127.0.0.1:9")  # fmt: skip
    supervisor._write_broker_stats()
    (snapshot,) = read_snapshots(supervisor.settings.stats_dir)
    assert (snapshot["pid"], snapshot["gauges"]["broker.resident_bytes"]) == (4343, 20 << 20)


def test_the_brokers_footprint_at_start_is_kept_until_it_restarts(tmp_path):
    supervisor = Supervisor(Settings(data_dir=tmp_path), tmp_path / "feeds.yaml", Console(file=io.StringIO()))
    sizes = iter([50 << 20, 80 << 20, 40 << 20])
    supervisor.broker = SimpleNamespace(process=SimpleNamespace(pid=1), resident_bytes=lambda: next(sizes),
                                        bootstrap="127.0.0.1:9")  # fmt: skip
    supervisor._write_broker_stats()
    supervisor._write_broker_stats()
    (gauges,) = [snap["gauges"] for snap in read_snapshots(supervisor.settings.stats_dir)]
    assert (gauges["broker.resident_bytes_at_start"], gauges["broker.resident_bytes"]) == (50 << 20, 80 << 20)
    assert gauges["broker.articles_before"] == 0
    worker = Counters("worker")
    worker.inc("extract", "in", 7)
    worker.write(supervisor.settings.stats_dir)
    supervisor.broker.process = SimpleNamespace(pid=2)  # restarted: a new, empty broker
    supervisor._write_broker_stats()
    (gauges,) = [
        snap["gauges"] for snap in read_snapshots(supervisor.settings.stats_dir) if snap["process"] == "broker"
    ]
    assert gauges["broker.resident_bytes_at_start"] == gauges["broker.resident_bytes"] == 40 << 20
    assert gauges["broker.articles_before"] == 7  # the new broker holds none of them


def test_a_rotation_waits_for_a_settled_worker_and_the_limit(tmp_path):
    """Never while the worker is missing or silent, nor until a minute after it recovered its tables (a recovery
    reads this broker, for minutes at production size)."""
    settings = Settings(data_dir=tmp_path, broker_rotate_mb=1)
    supervisor = Supervisor(settings, tmp_path / "feeds.yaml", Console(file=io.StringIO()))
    sizes = iter([10 << 20, *[12 << 20] * 5])
    supervisor.broker = SimpleNamespace(process=SimpleNamespace(pid=1), resident_bytes=lambda: next(sizes),
                                        bootstrap="127.0.0.1:9", running=True)  # fmt: skip
    supervisor._write_broker_stats()
    supervisor._write_broker_stats()  # grown by 2 MB: past the limit
    assert not supervisor._rotation_due()  # no worker
    worker = Child("worker", ["worker"], tmp_path / "w.log")
    worker.process = SimpleNamespace(poll=lambda: None)  # type: ignore[assignment]
    supervisor.children = [worker]
    counters = Counters("worker")
    counters.started_at = time.time() - 600
    counters.write(settings.stats_dir)
    assert not supervisor._rotation_due()  # up for long, but it never said its tables were recovered
    counters.set(TABLES_READY_GAUGE, None)
    counters.write(settings.stats_dir)
    assert not supervisor._rotation_due()  # recovering its tables from this broker
    counters.set(TABLES_READY_GAUGE, time.time() - 5)
    counters.write(settings.stats_dir)
    assert not supervisor._rotation_due()  # recovered a moment ago
    counters.set(TABLES_READY_GAUGE, time.time() - 120)
    counters.write(settings.stats_dir)
    assert supervisor._rotation_due()
    supervisor.rotation.limit_bytes = 3 << 20
    assert not supervisor._rotation_due()
