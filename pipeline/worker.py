"""Worker: build the Faust app, the processor chain and the sink from settings, then run (`akhbar worker`).

Runs in its own process: mode's Worker owns the event loop and the signal handlers (SIGINT/SIGTERM stop it
cleanly) and exits the process when done.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import faust

from pipeline.agents import Stages, register_agents
from pipeline.app import create_app, declare_tables, declare_topics
from pipeline.archive import RawArchive
from pipeline.cpu_pool import CpuPool
from pipeline.dead_letters import DeadLetterArchive
from pipeline.faust_fixes import apply as apply_faust_fixes
from pipeline.observability import serve_observability
from pipeline.settings import Settings
from pipeline.sinks.base import open_sink
from pipeline.status import TABLES_READY_GAUGE, embedded_broker_pid
from pipeline.topics import ensure_topics, topic_specs
from processors.chain import ArticleChain, ChainConfig
from processors.cluster import ClusterConfig
from processors.dedup import DedupConfig
from processors.extract import ExtractConfig
from processors.metrics import Counters

log = logging.getLogger("akhbar.worker")

STAGE_BATCH_SECONDS = 0.05  # longest a stage waits for its batch to fill: at most this much latency per hop
BATCH_QUIET_SECONDS = 0.02  # a batch (stage or sink) closes once its stream brought nothing for this long …
SINK_LINGER_SECONDS = 0.25  # … the sink's no sooner than this after its first article (keeps store batches big)


def chain_config(settings: Settings) -> ChainConfig:
    return ChainConfig(
        extract=ExtractConfig(keep_non_arabic=settings.keep_non_arabic, min_text_chars=settings.min_text_chars),
        dedup=DedupConfig(window_days=settings.dedup_window_days),
        cluster=ClusterConfig(window_days=settings.dedup_window_days),
        gazetteer_dir=settings.gazetteer_dir,
    )


def cpu_processes(settings: Settings) -> int:
    """Processes for extraction and enrichment: as configured, else one per core this process may use."""
    if settings.cpu_processes is not None:
        return settings.cpu_processes
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def build_worker_app(settings: Settings, bootstrap: str) -> tuple[faust.App, Counters]:
    """Everything the worker needs, built once at start-up: app, topics, tables, chain, sink, agents."""
    apply_faust_fixes(settings.fetch_max_wait_ms)
    app = create_app(settings, bootstrap, replaceable_broker=embedded_broker_pid(settings.stats_dir) is not None)
    topics = declare_topics(app, settings)
    dedup_table, cluster_table = declare_tables(app, settings)
    chain = ArticleChain(chain_config(settings), dedup_table, cluster_table)
    counters = Counters("worker")
    archive = RawArchive(settings.archive_dir) if settings.archive_raw else None
    pool = CpuPool(chain, cpu_processes(settings))
    pool.start()  # here, in the main thread: the pool's processes die with the thread that started them
    stages = Stages(topics, chain, open_sink(settings), counters, batch_size=settings.sink_batch_size,
                    batch_seconds=settings.sink_batch_seconds, archive=archive, pool=pool,
                    stage_batch=(settings.stage_batch_size, STAGE_BATCH_SECONDS),
                    quiet=(BATCH_QUIET_SECONDS, SINK_LINGER_SECONDS),
                    letters=DeadLetterArchive(settings.dead_letter_dir))  # fmt: skip
    register_agents(app, stages)
    app.on_partitions_assigned.connect(_on_assigned(stages, settings.stats_dir))
    stats_dir = settings.stats_dir
    readiness = TableReadiness()

    async def write_stats() -> None:
        counters.set(TABLES_READY_GAUGE, readiness.update(tables_recovered(app), time.time()))
        counters.write(stats_dir)
        if archive is not None:
            archive.flush()

    app.timer(1.0, name="write_stats")(write_stats)
    if settings.metrics_port:
        serve_observability(counters, settings.metrics_port, settings.metrics_host)
    return app, counters


def tables_recovered(app: faust.App) -> bool:
    """The worker's tables are recovered and no rebalance is under way (so none reads its changelog now)."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]  # TableManager's, not in its abstract type
    return bool(recovery.completed.is_set() and not app.in_recovery and not app.rebalancing)


class TableReadiness:
    """Since when the tables have been recovered, None while the worker joins its group or recovers them. A
    week of state is ~0.5 ms of Faust's recovery per changelog record (minutes at production size), and the
    supervisor must not replace the embedded broker under a recovery that is still reading from it."""

    def __init__(self) -> None:
        self.since: float | None = None

    def update(self, ready: bool, now: float) -> float | None:
        if not ready:
            self.since = None
        elif self.since is None:
            self.since = now
        return self.since


def _on_assigned(stages: Stages, stats_dir: Path) -> Any:
    """What the worker does on each partition assignment (after its tables are recovered)."""
    broker = {"pid": embedded_broker_pid(stats_dir)}  # under `akhbar run`, its supervisor reports the broker's pid

    async def on_assigned(*_: object, **__: object) -> None:
        stages.mark_indexes_stale()  # the next article rebuilds the in-memory indexes from the recovered tables
        now = embedded_broker_pid(stats_dir)
        if now is not None and broker["pid"] is not None and now != broker["pid"]:
            stages.mark_changelogs_lost()  # a new embedded broker has none of the tables' changelogs
        broker["pid"] = now if now is not None else broker["pid"]

    return on_assigned


def run_worker(settings: Settings, bootstrap: str, log_file: Path | None = None) -> None:
    """Create the topics, then run the Faust worker until SIGINT/SIGTERM (exits the process)."""
    ensure_topics(bootstrap, topic_specs(settings))
    app, _ = build_worker_app(settings, bootstrap)
    faust_worker(app, settings.log_level, log_file).execute_from_commandline()


def faust_worker(app: faust.App, log_level: str, log_file: Path | None = None) -> faust.Worker:
    worker = faust.Worker(
        app, loglevel=log_level, logfile=str(log_file) if log_file else None, quiet=True, redirect_stdouts=False
    )
    # At WARNING and above, Faust's terminal spinner sets the root logger to DEBUG so that every record turns
    # it: each debug call of Faust and aiokafka (several per message) then builds a record. No spinner here.
    worker.spinner = None
    return worker
