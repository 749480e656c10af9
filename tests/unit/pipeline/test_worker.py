"""The worker's reaction to a partition assignment (indexes rebuilt, tables rewritten under a new broker), and what
it reports of its tables' recovery."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from pipeline.status import embedded_broker_pid
from pipeline.worker import TableReadiness, _on_assigned, tables_recovered
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


def app_in(completed: bool, in_recovery: bool = False, rebalancing: bool = False) -> Any:
    done = asyncio.Event()
    if completed:
        done.set()
    tables = SimpleNamespace(recovery=SimpleNamespace(completed=done))
    return SimpleNamespace(tables=tables, in_recovery=in_recovery, rebalancing=rebalancing)


def test_tables_count_as_recovered_only_between_rebalances():
    assert not tables_recovered(app_in(completed=False))  # joining its group: no recovery finished yet
    assert not tables_recovered(app_in(completed=True, in_recovery=True))  # a later rebalance's recovery
    assert not tables_recovered(app_in(completed=True, rebalancing=True))
    assert tables_recovered(app_in(completed=True))


def test_readiness_is_dated_from_the_end_of_the_last_recovery():
    readiness = TableReadiness()
    assert readiness.update(False, 10.0) is None
    assert readiness.update(True, 20.0) == 20.0
    assert readiness.update(True, 30.0) == 20.0  # still the same recovery's end
    assert readiness.update(False, 40.0) is None  # a rebalance: recovering again
    assert readiness.update(True, 50.0) == 50.0
