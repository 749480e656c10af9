"""Supervisor: `akhbar run` — the whole pipeline as one process tree on one machine, with a live status.

Order of start: broker (embedded unless configured) → topics → worker → connectors. Order of stop (Ctrl-C,
SIGTERM, or a child that died): connectors → worker → broker, each given a share of a 10-second budget before
it is killed. Children die with us even if we are killed outright (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live

from pipeline.broker import EmbeddedBroker, die_with_parent
from pipeline.rotation import BrokerRotation, pipeline_drained
from pipeline.settings import Settings
from pipeline.status import STALE_AFTER, TABLES_READY_GAUGE, render, snapshot_of, totals
from pipeline.topics import ensure_topics, topic_specs, worker_topic_specs
from processors.metrics import Counters, read_snapshots
from processors.records import TOPIC_ARTICLES, TOPIC_ENRICHED, TOPIC_RAW

STOP_BUDGET = 9.0
CRASH_WINDOW = 60.0
MAX_CRASHES = 5
WORKER_SETTLED_SECONDS = 60.0  # before a rotation: the worker's tables recovered at least this long ago


@dataclass
class Child:
    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None)
    crashes: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.env = env
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", *self.args], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=die_with_parent,
            )  # fmt: skip

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def crash_looping(self, now: float) -> bool:
        """Record a crash; True when there were more than MAX_CRASHES within CRASH_WINDOW seconds."""
        self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW] + [now]
        return len(self.crashes) > MAX_CRASHES

    def stop(self, timeout: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=2)


class Supervisor:
    def __init__(self, settings: Settings, feeds_path: Path, console: Console | None = None) -> None:
        self.settings = settings
        self.feeds_path = feeds_path
        self.console = console or Console()
        self.logs = settings.data_dir / "logs"
        self.broker: EmbeddedBroker | None = None
        self.children: list[Child] = []
        self._stop = threading.Event()
        self._broker_stats: Counters | None = None
        self.rotation = BrokerRotation(settings.broker_rotate_mb * 2**20, self._drained, self._stop.is_set,
                                       tick=self._write_broker_stats)  # fmt: skip

    def _child_env(self, bootstrap: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"AKHBAR_KAFKA_BOOTSTRAP": bootstrap, "AKHBAR_DATA_DIR": str(self.settings.data_dir.resolve()),
                    "AKHBAR_FEEDS_CONFIG": str(self.feeds_path.resolve()), "PYTHONUNBUFFERED": "1"})  # fmt: skip
        return env

    def start(self) -> str:
        self.logs.mkdir(parents=True, exist_ok=True)
        for stale in self.settings.stats_dir.glob("*.json"):
            stale.unlink(missing_ok=True)
        bootstrap = self.settings.kafka_bootstrap
        if not bootstrap:
            self.broker = EmbeddedBroker(self.settings.tansu_binary, log_path=self.logs / "tansu.log").start()
            bootstrap = self.broker.bootstrap
        ensure_topics(bootstrap, topic_specs(self.settings))
        env = self._child_env(bootstrap)
        self.children = [
            Child("worker", ["worker"], self.logs / "worker.log"),
            Child("connectors", ["connectors"], self.logs / "connectors.log"),
        ]
        for child in self.children:
            child_env = dict(env)
            if self.settings.metrics_port and child.name == "connectors":  # one port per process
                child_env["AKHBAR_METRICS_PORT"] = str(self.settings.metrics_port + 1)
            child.start(child_env)
        return bootstrap

    def stop(self) -> None:
        deadline = time.monotonic() + STOP_BUDGET
        for child in reversed(self.children):  # connectors first, then the worker
            child.stop(timeout=max(0.5, (deadline - time.monotonic()) / 2))
        if self.broker is not None:
            self.broker.stop(timeout=max(0.5, deadline - time.monotonic()))

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.exited() is not None), None)

    def run(self, live: bool = True, duration: float | None = None) -> int:
        """Start, show the status until stopped (signal, ``duration`` elapsed, or a child died), stop."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        try:
            bootstrap = self.start()
            where = "embedded Tansu" if self.broker else "configured broker"
            self.console.print(f"akhbar: broker {bootstrap} ({where}); logs in {self.logs}; Ctrl-C stops")
            return self._watch(live, duration)
        finally:
            self.stop()
            self.console.print("akhbar: stopped")

    def _watch(self, live: bool, duration: float | None) -> int:
        ends = time.monotonic() + duration if duration else None
        with Live(render(self.settings.stats_dir), console=self.console, refresh_per_second=2,
                  transient=False) if live else _NoLive() as screen:  # fmt: skip
            while not self._stop.wait(0.5):
                self._write_broker_stats()
                screen.update(render(self.settings.stats_dir))
                if self.broker is not None and not self.broker.running and not self._restart_broker():
                    return 1
                if self._rotation_due():
                    self._rotate_broker()
                dead = self.dead_child()
                if dead is not None and not self._restart(dead):
                    return 1
                if ends is not None and time.monotonic() >= ends:
                    break
        return 0

    def _write_broker_stats(self) -> None:
        """The embedded broker's memory for the status screen (it keeps every message until it stops)."""
        if self.broker is None or self.broker.process is None:
            return
        resident = self.broker.resident_bytes()
        if self._broker_stats is None or self._broker_stats.pid != self.broker.process.pid:  # (re)started
            self._broker_stats = Counters("broker", pid=self.broker.process.pid)
            self._broker_stats.set("broker.resident_bytes_at_start", resident)  # what no message holds
            self._broker_stats.set("broker.bootstrap", self.broker.bootstrap)  # for replay and dlq redrive
            # the articles that went through an earlier broker: its successor holds none of them
            self._broker_stats.set(
                "broker.articles_before", totals(read_snapshots(self.settings.stats_dir))["extract.in"]
            )
        self._broker_stats.set("broker.resident_bytes", resident)
        self._broker_stats.set("broker.rotate_at_bytes", self.rotation.limit_bytes)
        self._broker_stats.set("broker.rotations", self.rotation.rotations)
        self._broker_stats.set("broker.last_rotated_at", self.rotation.last_rotated_at)
        self._broker_stats.write(self.settings.stats_dir)

    def _rotation_due(self) -> bool:
        if self.broker is None or self._broker_stats is None or not self.broker.running:
            return False
        if not self._worker_settled():  # a worker recovering its tables reads them from this broker
            return False
        gauges = self._broker_stats.snapshot()["gauges"]
        return self.rotation.due(gauges["broker.resident_bytes"] - gauges["broker.resident_bytes_at_start"])

    def _worker_settled(self) -> bool:
        """The worker is running, reports, and recovered its tables a minute ago or more (a recovery reads the
        changelogs of this broker; at production size it takes minutes)."""
        worker = next((c for c in self.children if c.name == "worker"), None)
        if worker is None or worker.process is None or worker.exited() is not None:
            return False
        snap = snapshot_of(self.settings.stats_dir, "worker", STALE_AFTER)
        ready_since = snap.get("gauges", {}).get(TABLES_READY_GAUGE) if snap else None
        return ready_since is not None and time.time() - ready_since >= WORKER_SETTLED_SECONDS

    def _drained(self) -> bool:
        assert self.broker is not None
        topics = (TOPIC_RAW, TOPIC_ARTICLES, TOPIC_ENRICHED)
        return pipeline_drained(self.broker.bootstrap, self.settings.worker_id, topics)

    def _rotate_broker(self) -> None:
        """Restart the embedded broker empty once nothing is in flight (pipeline/rotation.py); the worker stays."""
        connectors = next(c for c in self.children if c.name == "connectors")

        def restart_broker() -> None:  # on failure the watch loop finds it stopped and tries once more
            assert self.broker is not None
            self.broker.stop()
            self._start_broker_again()

        self.rotation.rotate(pause=lambda: connectors.stop(timeout=STOP_BUDGET / 2), restart_broker=restart_broker,
                             resume=lambda: connectors.start(connectors.env), say=self.console.print)  # fmt: skip
        self._write_broker_stats()

    def _restart_broker(self) -> bool:
        """The embedded broker died: start it again on the same port (memory storage: topics are recreated)."""
        self.console.print(
            "[yellow]akhbar: the embedded broker stopped; restarting it (its messages are lost)[/yellow]"
        )
        return self._start_broker_again()

    def _start_broker_again(self) -> bool:
        """Start the embedded broker on its port again and recreate the topics (memory storage: it is empty)."""
        assert self.broker is not None
        try:
            self.broker.start()
            ensure_topics(self.broker.bootstrap, [*topic_specs(self.settings), *worker_topic_specs(self.settings)])
        except Exception as exc:
            self.console.print(f"[red]akhbar: cannot restart the broker: {exc}[/red]")
            return False
        return True

    def _restart(self, child: Child) -> bool:
        """Restart a child that died; False when it is crash-looping (then everything stops)."""
        code = child.exited()
        if child.crash_looping(time.monotonic()):
            self.console.print(
                f"[red]akhbar: {child.name} keeps failing (last exit {code}); see {child.log_path}[/red]"
            )
            return False
        self.console.print(f"[yellow]akhbar: {child.name} exited with code {code}; restarting[/yellow]")
        time.sleep(min(2 ** (len(child.crashes) - 1), 10))
        child.start(child.env)
        return True


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, _renderable: object) -> None:
        return None
