"""Status: one screen summarising a running pipeline from the processes' counter snapshots (data/stats/*.json).

Every process writes its counters about once a second; the summary adds them up, so it works the same for
`akhbar run` (live) and `akhbar status` (once), whichever processes are running.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table

from processors.metrics import ago, read_snapshots

if TYPE_CHECKING:
    from pipeline.settings import Settings

STALE_AFTER = 10.0
# The worker's gauge: since when its tables have been recovered (None while it recovers them from the broker).
TABLES_READY_GAUGE = "tables.ready_since"

# (row label, counter keys summed) in pipeline order
ROWS: list[tuple[str, tuple[str, ...]]] = [
    ("sources polled", ("connector.polled",)),
    ("feeds unchanged (304/same body)", ("connector.not_modified",)),
    ("articles published", ("connector.published",)),
    ("fetch errors", ("connector.fetch_error",)),
    ("publish errors", ("connector.publish_error",)),
    ("extract in", ("extract.in",)),
    ("extract out", ("extract.out",)),
    ("unique", ("dedup.unique",)),
    ("duplicates", ("dedup.duplicate", "dedup.near_duplicate")),
    ("enriched", ("enrich.out",)),
    ("indexed", ("index.out",)),
    ("sink retries", ("index.retry",)),
]


def totals(snapshots: list[dict[str, Any]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for snap in snapshots:
        total.update(snap.get("counts", {}))
    return total


def drops(total: Counter[str]) -> dict[str, int]:
    return {key.split(".dropped.", 1)[1]: n for key, n in total.items() if ".dropped." in key}


def dead_letters(total: Counter[str]) -> dict[str, int]:
    return {key.removesuffix(".dead_letter"): n for key, n in total.items() if key.endswith(".dead_letter")}


def render(stats_dir: Path, now: float | None = None) -> Group:
    """A rich renderable: processes, per-stage counts, drops by reason, dead letters by stage."""
    now = now or time.time()
    snapshots = read_snapshots(stats_dir)
    procs = Table("process", "pid", "up", "last update", title="processes", title_justify="left")
    for snap in snapshots:
        age = now - snap.get("updated_at", 0)
        state = f"{age:.0f}s ago" + (" [red](stale)[/red]" if age > STALE_AFTER else "")
        if TABLES_READY_GAUGE in snap.get("gauges", {}) and snap["gauges"][TABLES_READY_GAUGE] is None:
            state += " [yellow](recovering its tables)[/yellow]"
        procs.add_row(snap["process"], str(snap.get("pid")), f"{now - snap.get('started_at', now):.0f}s", state)
    total = totals(snapshots)
    counts = Table("stage", "count", title="articles", title_justify="left")
    for label, keys in ROWS:
        counts.add_row(label, str(sum(total[k] for k in keys)))
    for reason, n in sorted(drops(total).items()):
        counts.add_row(f"dropped: {reason}", str(n))
    for stage, n in sorted(dead_letters(total).items()):
        counts.add_row(f"[yellow]dead letters: {stage}[/yellow] (akhbar dlq list)", str(n))
    return Group(procs, counts, *_broker_memory(snapshots, total), *_source_table(snapshots))


def _broker_memory(snapshots: list[dict[str, Any]], total: Counter[str]) -> list[str]:
    """The embedded broker's memory: Tansu keeps every message until it stops, so a long run must watch it."""
    gauges = [snap.get("gauges", {}) for snap in snapshots]
    resident = sum(g.get("broker.resident_bytes", 0) for g in gauges)
    if not resident:
        return []
    # Per article, the growth since the broker started: its empty footprint would swamp the first articles.
    grown = resident - sum(g.get("broker.resident_bytes_at_start", 0) for g in gauges)
    articles = total["extract.in"] - sum(g.get("broker.articles_before", 0) for g in gauges)
    per_article = f", {grown / 1024 / articles:.0f} KB per article in" if articles > 0 else ""
    rotations = sum(g.get("broker.rotations", 0) for g in gauges)
    last = max((g.get("broker.last_rotated_at") or 0 for g in gauges), default=0)
    rotated = f"; restarted empty {rotations} times, last {ago(last)}" if rotations else ""
    limit = max((g.get("broker.rotate_at_bytes", 0) for g in gauges), default=0)
    policy = f"emptied once idle after {limit / 2**20:,.0f} MB of growth" if limit else "AKHBAR_BROKER_ROTATE_MB=0"
    return [f"embedded broker memory: {resident / 2**20:,.0f} MB{per_article} (no retention; {policy}){rotated}"]


def _source_table(snapshots: list[dict[str, Any]]) -> list[Table]:
    sources = {
        name.removeprefix("source."): value
        for snap in snapshots
        for name, value in snap.get("gauges", {}).items()
        if name.startswith("source.") and isinstance(value, dict)
    }
    if not sources:
        return []
    table = Table("source", "health", "last poll", "published", "last error", title="sources", title_justify="left")
    for name, info in sorted(sources.items()):  # the gauges of connectors.runner.health_gauge
        table.add_row(name, str(info.get("status", "")), ago(info.get("last_poll")), str(info.get("published", 0)),
                      str(info.get("last_error") or "")[:80])  # fmt: skip
    return [table]


def snapshot_of(stats_dir: Path, process: str, max_age: float | None = None) -> dict[str, Any] | None:
    """The counter snapshot ``process`` wrote, if it wrote one (within ``max_age`` seconds, when given)."""
    for snap in read_snapshots(stats_dir):
        if snap.get("process") == process and (max_age is None or time.time() - snap.get("updated_at", 0) <= max_age):
            return snap
    return None


def fresh(stats_dir: Path, process: str, max_age: float = STALE_AFTER) -> bool:
    """True when ``process`` wrote its snapshot within ``max_age`` seconds (a container healthcheck)."""
    return snapshot_of(stats_dir, process, max_age) is not None


def embedded_bootstrap(stats_dir: Path, max_age: float = STALE_AFTER) -> str | None:
    """The address of the embedded broker of a running `akhbar run` on this data directory (its supervisor
    writes it each half second), so `akhbar replay` and `akhbar dlq redrive` can reach it; None when none runs."""
    snap = snapshot_of(stats_dir, "broker", max_age)
    address = snap.get("gauges", {}).get("broker.bootstrap") if snap else None
    return str(address) if address else None


def bootstrap_to_feed(settings: Settings) -> str | None:
    """Where `akhbar replay` and `akhbar dlq redrive` publish: the configured broker, else the embedded one."""
    return settings.kafka_bootstrap or embedded_bootstrap(settings.stats_dir)


def embedded_broker_pid(stats_dir: Path) -> int | None:
    """The pid of the embedded broker `akhbar run` last reported (a new pid: the broker was replaced)."""
    snap = snapshot_of(stats_dir, "broker")
    return int(snap["pid"]) if snap and snap.get("pid") else None
