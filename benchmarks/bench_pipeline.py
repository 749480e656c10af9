"""Pipeline benchmark (issue 8): (a) processors alone, (b) the full pipeline through the embedded broker into
the embedded store, (c) a no-op Faust agent on the same broker (the ceiling), (b)/(c), and the latency from
publish to searchable at a fixed offered load.

Each measurement gets a fresh embedded broker and data directory, the worker is warmed up (one article through
every stage) before the clock starts, and throughput is reported as the median of several runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from benchmarks.corpus import build
from benchmarks.noop_app import NOOP_TOPIC
from pipeline.broker import EmbeddedBroker
from pipeline.settings import Settings
from pipeline.topics import TopicSpec, ensure_topics, topic_specs
from processors.chain import ArticleChain
from processors.errors import Dropped, PermanentError
from processors.records import TOPIC_RAW, RawArticle, utcnow

OFFERED_RATE = 100.0  # articles/s for the latency run
STAGE_BATCH: int = Settings.model_fields["stage_batch_size"].default  # the worker's stage batch, for (a)


def processors_alone(corpus: list[RawArticle], batch: int = 0) -> float:
    """Articles/s of the whole chain in this thread: one article at a time (``batch`` 0), or stage by stage over
    batches of ``batch`` articles, as the worker runs them (its stage batch, ``AKHBAR_STAGE_BATCH_SIZE``)."""
    chain = ArticleChain()
    chain.process(corpus[0])  # warm caches outside the clock
    started = time.perf_counter()
    if batch:
        for first in range(1, len(corpus), batch):
            chain.process_batch(corpus[first : first + batch])  # drops come back as outcomes, costed as they are
    else:
        for raw in corpus[1:]:
            with contextlib.suppress(Dropped, PermanentError):  # a drop costs what it costs: the rate is what counts
                chain.process(raw)
    return (len(corpus) - 1) / (time.perf_counter() - started)


def accounted(counts: dict[str, int]) -> int:
    """Articles that finished: indexed (incl. folded duplicates), dropped, or dead-lettered before the sink."""
    done = counts.get("index.out", 0) + counts.get("noop.in", 0)
    return done + sum(n for k, n in counts.items() if ".dropped." in k or k.endswith(".dead_letter"))


def snapshot(stats_dir: Path, process: str) -> dict[str, Any]:
    try:
        return json.loads((stats_dir / f"{process}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"counts": {}, "gauges": {}, "samples": {}}


class Run:
    """One fresh broker + data dir + a child process (the worker or the no-op app)."""

    def __init__(self, module: list[str], process: str) -> None:
        self.module, self.process = module, process
        self.tmp = tempfile.TemporaryDirectory(prefix="akhbar-bench-")
        self.data = Path(self.tmp.name)
        self.broker = EmbeddedBroker()
        self.child: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Run:
        self.broker.start()
        settings = Settings(data_dir=self.data)
        ensure_topics(self.broker.bootstrap, [*topic_specs(settings), TopicSpec(NOOP_TOPIC, 1, 3_600_000)])
        env = {**os.environ, "AKHBAR_KAFKA_BOOTSTRAP": self.broker.bootstrap, "AKHBAR_DATA_DIR": str(self.data),
               "AKHBAR_LOG_LEVEL": "WARNING", "AKHBAR_ARCHIVE_RAW": "false"}  # fmt: skip
        self.log = open(self.data / "child.log", "wb")
        self.child = subprocess.Popen([sys.executable, "-m", *self.module], env=env, stdout=self.log, stderr=self.log)
        self.producer = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", linger_ms=5,
                                      compression_type=settings.compression_type)  # as the connectors  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        self.producer.close(timeout=5)
        if self.child is not None:
            self.child.terminate()
            try:
                self.child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.child.kill()
        self.broker.stop()
        self.log.close()
        self.tmp.cleanup()

    def counts(self) -> dict[str, Any]:
        return snapshot(self.data / "stats", self.process)

    def wait_accounted(self, expected: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.counts()
            if accounted(snap["counts"]) >= expected:
                return snap
            if self.child is not None and self.child.poll() is not None:
                raise RuntimeError(f"{self.process} exited: {(self.data / 'child.log').read_text()[-2000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{self.process}: {accounted(self.counts()['counts'])}/{expected} after {timeout}s")

    def send(self, topic: str, raw: RawArticle) -> None:
        self.producer.send(topic, key=raw.id.encode(), value=raw.to_json())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(all, idle + iowait) clock ticks of every CPU since boot (Linux /proc/stat; zeros elsewhere)."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(ticks), ticks[3] + ticks[4]


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


@dataclass(frozen=True)
class Throughput:
    """One burst: its rate, the CPU each process spent per message, and how busy the whole machine was."""

    rate: float  # messages/s, first send to last message handled
    worker_ms: float  # the child process (the worker, or the no-op app)
    children_ms: float  # its own children (the worker's CPU pool and store writer)
    broker_ms: float  # the embedded broker
    machine_busy: float  # share of all CPUs busy meanwhile, whatever ran on them (0 when unknown)
    broker_kb: float  # the embedded broker's resident memory growth per message (Tansu keeps every message)


def throughput(module: list[str], process: str, topic: str, corpus: list[RawArticle], last_gauge: str) -> Throughput:
    """Messages/s from the first send of a burst to the last message handled (the child's own clock), with the
    CPU per message of the child, of its children and of the broker: on a machine whose CPUs are all busy, the
    rate is their sum's inverse times the CPUs, so these say where a faster pipeline must save."""
    with Run(module, process) as run:
        run.send(topic, corpus[0])
        run.producer.flush()
        run.wait_accounted(1, timeout=120)  # warm: group joined, every stage has seen one article
        assert run.child is not None and run.broker.process is not None
        pids = [run.child.pid, run.broker.process.pid]
        children = child_pids(run.child.pid)
        before = [*map(cpu_seconds, pids), sum(map(cpu_seconds, children))]
        ticks_before, memory_before = machine_ticks(), run.broker.resident_bytes()
        started = time.time()
        for raw in corpus[1:]:
            run.send(topic, raw)
        run.producer.flush()
        snap = run.wait_accounted(len(corpus), timeout=600)
        after = [*map(cpu_seconds, pids), sum(map(cpu_seconds, children))]
        ticks_after, memory_after = machine_ticks(), run.broker.resident_bytes()
        count = len(corpus) - 1
        worker_ms, broker_ms, children_ms = (1000 * (a - b) / count for a, b in zip(after, before, strict=True))
        ticks, idle = (a - b for a, b in zip(ticks_after, ticks_before, strict=True))
        busy = 1 - idle / ticks if ticks else 0.0
        rate = count / (snap["gauges"][last_gauge] - started)
        return Throughput(rate, worker_ms, children_ms, broker_ms, busy, (memory_after - memory_before) / 1024 / count)


def latency(corpus: list[RawArticle], rate: float) -> dict[str, float]:
    """Publish at ``rate``/s (fetched_at = send time); the index agent's reservoir gives p50/p95 to searchable."""
    with Run(["pipeline.cli", "worker"], "worker") as run:
        run.send(TOPIC_RAW, corpus[0])
        run.producer.flush()
        run.wait_accounted(1, timeout=120)
        started = time.monotonic()
        for i, raw in enumerate(corpus[1:], start=1):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            run.send(TOPIC_RAW, raw.model_copy(update={"fetched_at": utcnow()}))
        run.producer.flush()
        snap = run.wait_accounted(len(corpus), timeout=300)
        return snap["samples"]["fetched_to_indexed_seconds"]


def run(quick: bool = False) -> list[dict[str, Any]]:
    size, repeats, latency_n = (300, 1, 300) if quick else (2000, 3, 2000)
    corpus = build(size)
    a = statistics.median(processors_alone(corpus, STAGE_BATCH) for _ in range(repeats))
    a_single = statistics.median(processors_alone(corpus) for _ in range(repeats))
    runs = [
        throughput(["pipeline.cli", "worker"], "worker", TOPIC_RAW, build(size, seed=100 + r), "index.last_at")
        for r in range(repeats)
    ]
    b, worker_ms, children_ms, broker_ms, busy, broker_kb = (
        statistics.median(figures) for figures in zip(*map(astuple, runs), strict=True)
    )
    c = statistics.median(
        throughput(["benchmarks.noop_app"], "noop", NOOP_TOPIC, corpus, "noop.last_at").rate for _ in range(repeats)
    )
    lat = latency(build(latency_n, seed=999), OFFERED_RATE)
    # Also at half the measured capacity: the latency a reader sees when the pipeline keeps up (at 100/s it
    # may not, and the figure is then the backlog's age).
    sustainable = max(1.0, round(b / 2))
    calm = latency(build(max(100, int(sustainable * 25)), seed=998), sustainable)
    row = {"bench": "pipeline"}
    return [
        {
            **row,
            "metric": f"(a) processors alone, 1 core, stage by stage in batches of {STAGE_BATCH} (as the worker)",
            "value": a,
            "unit": "articles/s",
            "target": ">= 500",
        },
        {
            **row,
            "metric": "(a) processors alone, 1 core, one article at a time",
            "value": a_single,
            "unit": "articles/s",
        },
        {**row, "metric": "(b) full pipeline, embedded broker + store", "value": b, "unit": "articles/s"},
        {**row, "metric": "(b) CPU per article, worker process", "value": worker_ms, "unit": "ms"},
        {**row, "metric": "(b) CPU per article, its children (pool, store writer)", "value": children_ms, "unit": "ms"},
        {**row, "metric": "(b) CPU per article, the embedded broker", "value": broker_ms, "unit": "ms"},
        {**row, "metric": "(b) machine busy during the burst (all CPUs)", "value": busy, "unit": "share"},
        {**row, "metric": "(b) embedded broker's memory growth per article", "value": broker_kb, "unit": "KB"},
        {**row, "metric": "(c) no-op Faust agent (ceiling)", "value": c, "unit": "msg/s"},
        {**row, "metric": "(b)/(c)", "value": b / c, "unit": "ratio", "target": ">= 0.25"},
        {**row, "metric": f"publish→searchable p50 @ {OFFERED_RATE:.0f}/s", "value": lat["p50"], "unit": "s"},
        {
            **row,
            "metric": f"publish→searchable p95 @ {OFFERED_RATE:.0f}/s",
            "value": lat["p95"],
            "unit": "s",
            "target": "<= 2",
        },
        {
            **row,
            "metric": f"publish→searchable p50 @ {sustainable:.0f}/s (half capacity)",
            "value": calm["p50"],
            "unit": "s",
        },
        {
            **row,
            "metric": f"publish→searchable p95 @ {sustainable:.0f}/s (half capacity)",
            "value": calm["p95"],
            "unit": "s",
        },
    ]
