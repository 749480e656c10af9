"""The worker's reaction to a partition assignment: indexes rebuilt, and tables rewritten under a new broker."""

from __future__ import annotations

import asyncio
from typing import Any

from pipeline.status import embedded_broker_pid
from pipeline.worker import _on_assigned
from processors.metrics import Counters


class FakeStages:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def mark_indexes_stale(self) -> None:
        self.calls.append("indexes")

    def mark_changelogs_lost(self) -> None:
        self.calls.append("changelogs")


def broker_at(stats_dir: Any, pid: int) -> None:
    Counters("broker", pid=pid).write(stats_dir)  # what `akhbar run`'s supervisor writes each half second


def test_only_a_broker_replaced_under_the_worker_makes_it_rewrite_its_tables(tmp_path):
    stages = FakeStages()
    broker_at(tmp_path, 100)
    assert embedded_broker_pid(tmp_path) == 100
    on_assigned = _on_assigned(stages, tmp_path)  # type: ignore[arg-type]
    asyncio.run(on_assigned())
    assert stages.calls == ["indexes"]  # the broker it started with: its changelogs are there
    broker_at(tmp_path, 200)  # rotated or restarted after a crash
    asyncio.run(on_assigned())
    asyncio.run(on_assigned())
    assert stages.calls == ["indexes", "indexes", "changelogs", "indexes"]


def test_without_akhbar_run_there_is_no_broker_to_watch(tmp_path):
    stages = FakeStages()
    on_assigned = _on_assigned(stages, tmp_path)  # type: ignore[arg-type]
    asyncio.run(on_assigned())
    broker_at(tmp_path, 300)  # a first report is no replacement
    asyncio.run(on_assigned())
    assert stages.calls == ["indexes", "indexes"]
