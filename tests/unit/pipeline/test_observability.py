"""Prometheus metrics and health come from the same counters as the live status."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from pipeline.broker import free_port
from pipeline.observability import health, serve_observability
from processors.metrics import Counters


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(tmp_path):
    counters = Counters("worker")
    port = free_port()
    server = serve_observability(counters, port)
    yield counters, f"http://127.0.0.1:{port}", tmp_path
    server.shutdown()
    server.server_close()


def test_metrics_expose_counts_gauges_and_latency(served):
    counters, base, _ = served
    counters.inc("index", "out", 12)
    counters.inc("extract", "dropped.not_arabic", 3)
    counters.set("source.aljazeera", {"status": "ok"})
    counters.set("source.dead", {"status": "unhealthy"})
    for ms in (10, 20, 30):
        counters.observe("fetched_to_indexed_seconds", ms / 1000)
    status, text = get(f"{base}/metrics")
    assert status == 200
    assert 'akhbar_events_total{outcome="out",process="worker",stage="index"} 12.0' in text
    assert 'outcome="dropped.not_arabic"' in text
    assert 'akhbar_source_healthy{source="aljazeera"} 1.0' in text
    assert 'akhbar_source_healthy{source="dead"} 0.0' in text
    assert "akhbar_fetched_to_indexed_seconds_count" in text and 'quantile="p95"' in text


def test_health_turns_ok_once_the_process_reports(served):
    counters, base, tmp_path = served
    status, body = get(f"{base}/healthz")
    assert status == 503 and json.loads(body)["status"] == "stale"
    counters.write(tmp_path)
    status, body = get(f"{base}/healthz")
    assert status == 200 and json.loads(body)["process"] == "worker"
    assert health(counters, now=counters.last_written + 60)[0] == 503
    assert get(f"{base}/nothing")[0] == 404
