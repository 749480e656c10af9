"""Tables benchmark (issue 8): what the worker's state costs at production size on the embedded broker — the
rewrite of both tables after a broker rotation, and Faust's recovery of them when a worker starts.

A Faust app (`benchmarks/tables_app.py`) fills the dedup and cluster tables with N articles' entries and rewrites
them; a second one starts on the same broker and recovers them. Recovery time is its time to its first message
less the first app's (both join the group the same way; the first has nothing to recover).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from pipeline.broker import EmbeddedBroker
from pipeline.settings import Settings
from pipeline.topics import ensure_topics, topic_specs, worker_topic_specs
from processors.records import TOPIC_RAW

RECORDS_PER_ARTICLE = 2  # one dedup entry (a:) and one cluster entry (s:)


def phase(name: str, broker: EmbeddedBroker, count: int, data: Path, timeout: float) -> dict[str, Any]:
    """Run one phase of the tables app until it reports, then stop it."""
    command = [sys.executable, "-m", "benchmarks.tables_app", name, broker.bootstrap, str(count), str(data)]
    with open(data / f"{name}.log", "wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=log, env={**os.environ, "AKHBAR_LOG_LEVEL": "WARNING"})
        try:
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
            producer.send(TOPIC_RAW, key=b"bench", value=b"{}")
            producer.close(timeout=10)
            return _report(data / f"{name}.json", child, time.monotonic() + timeout)
        finally:
            child.terminate()
            child.wait(timeout=30)


def _report(report: Path, child: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    while not report.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            log = report.with_suffix(".log")
            raise RuntimeError(f"tables app {report.stem}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    time.sleep(0.2)  # the report is written whole before the next look
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def measure(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="akhbar-bench-tables-") as tmp:
        data = Path(tmp)
        broker = EmbeddedBroker()
        broker.start()
        try:
            settings = Settings(data_dir=data)
            ensure_topics(broker.bootstrap, [*topic_specs(settings), *worker_topic_specs(settings)])
            filled = phase("fill", broker, count, data, timeout=600 + count / 100)
            recovered = phase("recover", broker, count, data, timeout=600 + count / 100)
        finally:
            broker.stop()
    records = count * RECORDS_PER_ARTICLE
    if recovered["recovered"] != records:
        raise RuntimeError(f"recovered {recovered['recovered']} of {records} table entries")
    recovery_s = recovered["ready_s"] - filled["ready_s"]
    return {
        "rewrite": filled["records"] / filled["rewrite_s"],
        "recovery": records / recovery_s,
        "recovery_cpu_ms": 1000 * (recovered["cpu_ready_s"] - filled["cpu_ready_s"]) / records,
        "recovery_s": recovery_s,
        "rss_mb": recovered["maxrss_mb"],
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    count = 3000 if quick else 20000
    figures = measure(count)
    records = count * RECORDS_PER_ARTICLE
    rows = [
        (f"rewrite after a broker rotation ({records:,} entries, sent)", figures["rewrite"], "entries/s"),
        (f"recovery at worker start ({records:,} entries)", figures["recovery"], "entries/s"),
        ("recovery: worker CPU per entry", figures["recovery_cpu_ms"], "ms"),
        (f"recovery: time for {count:,} articles of state", figures["recovery_s"], "s"),
        ("worker's peak resident memory after the recovery", figures["rss_mb"], "MB"),
    ]
    return [{"bench": "tables", "metric": metric, "value": value, "unit": unit} for metric, value, unit in rows]
