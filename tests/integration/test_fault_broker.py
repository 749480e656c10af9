"""Fault: the embedded broker dies under `akhbar run` (issue 8).

Tansu keeps everything in memory, so a restarted broker has no topics, messages, offsets or groups. The
supervisor starts it again on the same port and recreates the topics; the connectors must retry what they could
not publish, and the worker must carry on. Every article the local site publishes after the crash is then
indexed exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.corpus import build
from processors.chain import ArticleChain
from processors.urls import article_id
from tests.integration.conftest import LocalSite, Story
from tests.integration.test_end_to_end import write_feeds

pytestmark = pytest.mark.integration


def stories(count: int) -> list[Story]:
    """Distinct Arabic stories (the recombined corpus can hold chance near-duplicates: keep only uniques)."""
    chain = ArticleChain()
    chosen = []
    for i, raw in enumerate(build(4 * count, target_bytes=1500, seed=77)):
        if chain.process(raw).dedup.status == "unique":
            chosen.append(Story(f"story-{i}", raw.title, (raw.text or "").split("\n")))
    return chosen[:count]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def tansu_pid(run_pid: int) -> int | None:
    for pid in children(run_pid):
        try:
            if b"tansu" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                return pid
        except OSError:
            continue
    return None


def worker_pid(run_pid: int) -> int | None:
    for pid in children(run_pid):
        try:
            if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    return None


def docs(data: Path) -> dict[str, dict[str, Any]]:
    path = data / "search.sqlite3"
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT d.id, b.doc FROM docs d JOIN bodies b ON b.rowid = d.rowid").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    return {doc_id: json.loads(body) for doc_id, body in rows}


class AkhbarRun:
    """`akhbar run --no-live` over a local site's feed, in its own data directory, stopped with Ctrl-C."""

    def __init__(self, tmp_path: Path, site: LocalSite, **env: str) -> None:
        self.site, self.data, self.log_path = site, tmp_path / "data", tmp_path / "run.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AKHBAR_")}
        environ.update(AKHBAR_DATA_DIR=str(self.data),
                       AKHBAR_FEEDS_CONFIG=str(write_feeds(tmp_path / "feeds.yaml", site)), **env)  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--no-live"], env=environ,
                                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip

    def ids(self, group: list[Story]) -> set[str]:
        return {article_id(f"{self.site.base}/news/{story.slug}.html") for story in group}

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := predicate():
                return value
            if self.process.poll() is not None:
                pytest.fail(f"akhbar run exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.25)
        pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{self.log()[-3000:]}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=20)


def test_broker_restart_under_akhbar_run_indexes_later_articles_once(tmp_path: Path, local_site: LocalSite) -> None:
    before, during, after = (lambda s: (s[:3], s[3:6], s[6:9]))(stories(9))
    for story in before:
        local_site.add(story)
    run = AkhbarRun(tmp_path, local_site)
    ids, wait_for, data = run.ids, run.wait_for, run.data
    try:
        wait_for(lambda: ids(before) <= docs(data).keys(), 120, "the first articles indexed")
        old_broker = wait_for(lambda: tansu_pid(run.process.pid), 10, "the broker process")
        os.kill(old_broker, signal.SIGKILL)  # the broker crashes: every topic, offset and group is gone
        for story in during:
            local_site.add(story)
        wait_for(lambda: (pid := tansu_pid(run.process.pid)) and pid != old_broker, 30, "the supervisor's new broker")
        assert "restarting it" in run.log()
        for story in after:
            local_site.add(story)

        wanted = ids(before) | ids(during) | ids(after)
        wait_for(lambda: wanted <= docs(data).keys(), 120, "every article published after the crash indexed")
        time.sleep(3)  # two more polls: anything doubled would show now
        stored = docs(data)
        assert set(stored) == wanted
        assert all(doc["reported_by"] == [] and doc["dedup"]["status"] == "unique" for doc in stored.values())
        connectors = json.loads((data / "stats" / "connectors.json").read_text(encoding="utf-8"))["counts"]
        assert connectors["connector.published"] >= len(wanted)
    finally:
        code = run.stop()
    assert code == 0, run.log()[-3000:]
    assert re.search(r"broker 127\.0\.0\.1:\d+", run.log())


@pytest.mark.timeout(480)  # two rotations, each a minute after the worker's tables are recovered
def test_broker_rotation_under_akhbar_run_loses_nothing_and_keeps_the_dedup_state(
    tmp_path: Path, local_site: LocalSite
) -> None:
    """A tiny AKHBAR_BROKER_ROTATE_MB makes the supervisor empty the broker whenever the pipeline is idle (once
    the worker has been up a minute, and 30 s apart): the connectors pause, the broker restarts, the worker
    stays. Every article is indexed once; a reprint that arrives after a rotation is still folded into its
    original (the worker kept its dedup state), and so is one that arrives after the worker was then killed
    and restarted (it recovered the state it had written to the new broker's changelog), and one after the
    next rotation, under that restarted worker."""
    first, second = (lambda s: (s[:4], s[4:8]))(stories(8))
    reprint = Story("reprint-of-first", first[0].title, first[0].paragraphs)  # the same story at another URL
    for story in first:
        local_site.add(story)
    run = AkhbarRun(tmp_path, local_site, AKHBAR_BROKER_ROTATE_MB="0.01")
    ids, wait_for, data = run.ids, run.wait_for, run.data

    def rotations() -> int:
        try:
            snapshot = json.loads((data / "stats" / "broker.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        return int(snapshot["gauges"].get("broker.rotations", 0))

    def folded_into(group: list[Story]) -> set[str]:
        return {entry["id"] for doc in docs(data).values() for entry in doc["reported_by"]} & ids(group)

    try:
        wait_for(lambda: ids(first) <= docs(data).keys(), 120, "the first articles indexed")
        wait_for(rotations, 120, "a rotation once they were indexed (the worker up for a minute)")
        for story in [*second, reprint]:
            local_site.add(story)
        original = next(iter(ids([first[0]])))
        folded = ids([reprint])
        wait_for(lambda: ids(second) <= docs(data).keys() and folded_into([reprint]), 120,
                 "the later articles indexed and the reprint folded")  # fmt: skip
        # The worker wrote its tables to the new broker's changelogs: one started now recovers all of them.
        old_worker = wait_for(lambda: worker_pid(run.process.pid), 10, "the worker process")
        os.kill(old_worker, signal.SIGKILL)
        wait_for(lambda: (pid := worker_pid(run.process.pid)) and pid != old_worker, 30, "the supervisor's new worker")
        late = Story("reprint-after-restart", first[1].title, first[1].paragraphs)  # from before the rotation
        local_site.add(late)
        folded_late = ids([late])
        wait_for(lambda: folded_into([late]), 120, "the late reprint folded by the new worker")
        # A worker that recovered from a changelog then sees the next rotation's empty one: it must stay up
        # with its state (Faust's consistency check would crash it and drop that state).
        new_worker, rotated = worker_pid(run.process.pid), rotations()
        wait_for(lambda: rotations() > rotated, 180, "a rotation under the restarted worker")
        again = Story("reprint-after-second-rotation", first[2].title, first[2].paragraphs)
        local_site.add(again)
        folded_again = ids([again])
        wait_for(lambda: folded_into([again]), 120, "a reprint folded after the second rotation")
        assert worker_pid(run.process.pid) == new_worker
        time.sleep(3)  # more polls on the rotated broker: anything doubled would show now
        stored = docs(data)
        assert set(stored) == ids(first) | ids(second)
        assert [entry["id"] for entry in stored[original]["reported_by"]] == list(folded)
        assert [entry["id"] for entry in stored[next(iter(ids([first[1]])))]["reported_by"]] == list(folded_late)
        assert [entry["id"] for entry in stored[next(iter(ids([first[2]])))]["reported_by"]] == list(folded_again)
        assert "table entries written to the new broker's changelog" in (data / "logs" / "worker.log").read_text()
        assert "restarted empty" in run.log()
        assert not list((data / "dead-letters").glob("*.jsonl"))
    finally:
        code = run.stop()
    assert code == 0, run.log()[-3000:]
