"""End to end on one machine: `akhbar run` (embedded broker and store) turns a local Arabic feed into search hits.

Also: polling the same feed again stores nothing twice; a non-JSON message on news.raw.v1 is dead-lettered and
the pipeline goes on; Ctrl-C stops the whole process tree within 10 seconds and leaves no broker behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.broker import port_open
from processors.records import TOPIC_DLQ, TOPIC_RAW
from tests.integration.conftest import STORIES, LocalSite, load_story

pytestmark = pytest.mark.integration

AKHBAR = [sys.executable, "-m", "pipeline.cli"]


def write_feeds(path: Path, site: LocalSite) -> Path:
    path.write_text(
        "sources:\n"
        "  - id: local-news\n"
        "    name: أخبار محلية\n"
        "    type: rss\n"
        f'    url: "{site.base}/rss.xml"\n'
        "    country: SY\n"
        "    interval: 2\n"
        "    fetch_full_text: true\n"
        "    allow_private: true\n",
        encoding="utf-8",
    )
    return path


def search(env: dict[str, str], query: str) -> list[dict]:
    out = subprocess.run([*AKHBAR, "search", query, "--json", "--limit", "50"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    if out.returncode == 2 and "no search store" in out.stderr:
        return []  # nothing indexed yet
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["hits"]


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"akhbar run exited ({process.returncode}) while waiting for {what}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def dead_letters(bootstrap: str) -> list[dict]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=2000)
    try:
        consumer.assign([TopicPartition(TOPIC_DLQ, 0)])
        consumer.seek_to_beginning()
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def test_feed_to_search_end_to_end(tmp_path, local_site):
    for slug in ("deir-ez-zor", "khartoum"):
        local_site.add(load_story(slug, STORIES[slug]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKHBAR_")}
    env.update(
        AKHBAR_DATA_DIR=str(tmp_path / "data"),
        AKHBAR_FEEDS_CONFIG=str(write_feeds(tmp_path / "feeds.yaml", local_site)),
    )
    log = open(tmp_path / "run.log", "w+")  # noqa: SIM115
    run = subprocess.Popen([*AKHBAR, "run", "--no-live"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        bootstrap = wait_for(lambda: re.search(r"broker (127\.0\.0\.1:\d+)", Path(log.name).read_text()),
                             30, "the broker", run).group(1)  # fmt: skip

        # 1. articles from the feed become searchable
        wait_for(lambda: search(env, "دير الزور") and search(env, "أم درمان"), 120, "both articles indexed", run)

        # 2. the feed is polled again (twice more): nothing is stored twice
        polls = local_site.hits["/rss.xml"]
        wait_for(lambda: local_site.hits["/rss.xml"] >= polls + 2, 30, "two more polls", run)
        time.sleep(3)
        assert len(search(env, "دير الزور")) == 1
        assert len(search(env, "أم درمان")) == 1

        # 3. a poison message is dead-lettered and the pipeline goes on
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        producer.send(TOPIC_RAW, key=b"poison", value=b"\x00not json {")
        producer.flush(10)
        producer.close()
        local_site.add(load_story("beirut", STORIES["beirut"]))
        wait_for(lambda: search(env, "بيروت"), 60, "the article published after the poison message", run)
        letters = dead_letters(bootstrap)
        assert any(d["stage"] == "parse" and "not json {" in d["payload"] for d in letters), letters
    finally:
        started = time.monotonic()
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=15)
        stopped_in = time.monotonic() - started
        log.close()
    assert code == 0, Path(log.name).read_text()[-3000:]
    assert stopped_in < 10, f"stop took {stopped_in:.1f}s"
    host, port = bootstrap.split(":")
    assert not port_open(host, int(port)), "the embedded broker is still listening"


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found |= {child} | descendants(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait() is missing


def test_a_killed_run_leaves_no_broker_worker_or_connector_behind(tmp_path, local_site):
    """SIGKILL gives `akhbar run` no chance to clean up: its children must notice and go by themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKHBAR_")}
    env.update(AKHBAR_DATA_DIR=str(tmp_path / "data"),
               AKHBAR_FEEDS_CONFIG=str(write_feeds(tmp_path / "feeds.yaml", local_site)))  # fmt: skip
    log = open(tmp_path / "run.log", "w+")  # noqa: SIM115
    run = subprocess.Popen([*AKHBAR, "run", "--no-live"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        bootstrap = wait_for(lambda: re.search(r"broker (127\.0\.0\.1:\d+)", Path(log.name).read_text()),
                             30, "the broker", run).group(1)  # fmt: skip
        wait_for(lambda: len(descendants(run.pid)) >= 3, 60, "broker, worker and connectors started", run)
        tree = descendants(run.pid)
        run.kill()
        run.wait(timeout=5)
        wait_for(lambda: not any(alive(pid) for pid in tree), 15, "every child of the killed run to exit")
        host, port = bootstrap.split(":")
        assert not port_open(host, int(port)), "the broker's port is still open"
    finally:
        if run.poll() is None:
            run.kill()
        log.close()
