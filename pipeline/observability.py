"""Observability: Prometheus metrics and a health endpoint for each process, served on 127.0.0.1.

The numbers come from the process's ``Counters`` (the same ones the live status shows) through a custom
collector, so there is one bookkeeping and two views. ``/healthz`` answers 200 while the process keeps writing
its snapshot (the event loop is alive) and 503 once it is stale.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from processors.metrics import Counters

HEALTHY_WITHIN = 10.0


class CountersCollector(Collector):
    """Exposes ``Counters`` as akhbar_events_total{stage,outcome}, gauges, summaries and source health."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    def collect(self) -> Iterator[Any]:
        snap = self.counters.snapshot()
        labels = {"process": snap["process"]}
        events = CounterMetricFamily("akhbar_events", "articles and messages by stage and outcome",
                                     labels=["process", "stage", "outcome"])  # fmt: skip
        for key, value in sorted(snap["counts"].items()):
            stage, _, outcome = key.partition(".")
            events.add_metric([labels["process"], stage, outcome], value)
        yield events
        yield from self._gauges(snap, labels["process"])
        for name, summary in sorted(snap["samples"].items()):
            family = SummaryMetricFamily(f"akhbar_{_metric_name(name)}", f"{name} (reservoir quantiles)",
                                         labels=["process", "quantile"])  # fmt: skip
            family.add_metric([labels["process"]], count_value=summary["count"], sum_value=summary["sum"])
            yield family
            quantiles = GaugeMetricFamily(f"akhbar_{_metric_name(name)}_quantile", f"{name} quantiles",
                                          labels=["process", "quantile"])  # fmt: skip
            for q in ("p50", "p95", "max"):
                if q in summary:
                    quantiles.add_metric([labels["process"], q], summary[q])
            yield quantiles

    def _gauges(self, snap: dict[str, Any], process: str) -> Iterator[Any]:
        plain = GaugeMetricFamily("akhbar_gauge", "numeric gauges", labels=["process", "name"])
        healthy = GaugeMetricFamily("akhbar_source_healthy", "1 when a source's last polls succeeded",
                                    labels=["source"])  # fmt: skip
        for name, value in sorted(snap["gauges"].items()):
            if isinstance(value, bool | int | float):
                plain.add_metric([process, name], float(value))
            elif isinstance(value, dict) and name.startswith("source."):
                # connectors.runner.health_gauge: status is ok | failing | unhealthy | never polled
                healthy.add_metric([name.removeprefix("source.")], 1.0 if value.get("status") == "ok" else 0.0)
        yield plain
        yield healthy


def _metric_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def health(counters: Counters, now: float | None = None) -> tuple[int, dict[str, Any]]:
    age = (now or time.time()) - counters.last_written if counters.last_written else None
    ok = age is not None and age <= HEALTHY_WITHIN
    body = {"status": "ok" if ok else "stale", "process": counters.process, "snapshot_age_seconds": age}
    return (200 if ok else 503), body


def serve_observability(counters: Counters, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start /metrics and /healthz in a daemon thread; returns the server (``shutdown()`` to stop)."""
    registry = CollectorRegistry()
    registry.register(CountersCollector(counters))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._send(200, "text/plain; version=0.0.4; charset=utf-8", generate_latest(registry))
            elif self.path.startswith("/healthz"):
                status, body = health(counters)
                self._send(status, "application/json", json.dumps(body).encode())
            else:
                self._send(404, "text/plain", b"try /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="observability", daemon=True).start()
    return server
