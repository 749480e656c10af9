"""Metrics: in-process counters by (stage, outcome), snapshotted to JSON for `akhbar run`'s live status.

Pure Python and thread-safe so that connectors (threads), agents (event loop) and benchmarks share one kind of
counter. Prometheus export reads the same counters (no second bookkeeping).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any


class Counters:
    """Named counters ``stage.outcome`` plus gauges, with an atomic JSON snapshot."""

    def __init__(self, process: str, pid: int | None = None) -> None:
        self.process = process
        self.pid = pid  # the process the figures are of, when another one writes them (default: the writer)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._gauges: dict[str, Any] = {}
        self._samples: dict[str, _Reservoir] = {}
        self.started_at = time.time()
        self.last_written = 0.0

    def inc(self, stage: str, outcome: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[f"{stage}.{outcome}"] += amount

    def set(self, name: str, value: Any) -> None:
        with self._lock:
            self._gauges[name] = value

    def observe(self, name: str, value: float) -> None:
        """Record a latency or size sample (bounded memory: a uniform reservoir per name)."""
        with self._lock:
            self._samples.setdefault(name, _Reservoir()).add(value)

    def get(self, stage: str, outcome: str) -> int:
        with self._lock:
            return self._counts[f"{stage}.{outcome}"]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "process": self.process,
                "pid": self.pid or os.getpid(),
                "started_at": self.started_at,
                "updated_at": time.time(),
                "counts": dict(self._counts),
                "gauges": dict(self._gauges),
                "samples": {name: r.summary() for name, r in self._samples.items()},
            }

    def write(self, directory: Path) -> Path:
        """Write the snapshot to ``directory/<process>.json`` atomically (rename over the old one)."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{self.process}.json"
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.snapshot(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(target)
        self.last_written = time.time()
        return target


class _Reservoir:
    """Count, sum and a uniform sample of at most ``size`` values (Vitter's algorithm R)."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.count = 0
        self.total = 0.0
        self.values: list[float] = []

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            slot = random.randrange(self.count)
            if slot < self.size:
                self.values[slot] = value

    def summary(self) -> dict[str, float]:
        if not self.values:
            return {"count": 0, "sum": 0.0}
        ordered = sorted(self.values)
        return {
            "count": self.count,
            "sum": self.total,
            "p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "max": ordered[-1],
        }


def read_snapshots(directory: Path) -> list[dict[str, Any]]:
    """All snapshots in ``directory`` (a missing or half-written one is skipped)."""
    snapshots = []
    for path in sorted(directory.glob("*.json")):
        try:
            snapshots.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return snapshots


def span(seconds: float) -> str:
    """A duration for a status screen: "3d", "5h", "12m", "40s"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def ago(moment: float | None) -> str:
    """How long ago an epoch time was ("3m ago"), or "never"."""
    return f"{span(max(time.time() - moment, 0))} ago" if moment else "never"
