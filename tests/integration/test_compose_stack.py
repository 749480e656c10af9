"""End to end on the docker compose stack: a local feed goes through Kafka and the processors into Elasticsearch.

Needs a Docker engine with Compose v2 (`make test-integration`); skipped, with the reason, where `docker info`
fails. The stack runs under its own project name, on free host ports, with a test feed served by a `feeds`
container, and is removed (volumes included) afterwards.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "tests" / "fixtures" / "deploy" / "feed.xml"
EXPECTED = {  # title prefix -> a country the gazetteer must find in the article
    "مقتل ثلاثة أشخاص": "PS",
    "مجلس الوزراء اللبناني": "LB",
    "افتتاح معرض الرياض": "SA",
}
FEEDS_YAML = """\
sources:
  - id: compose-test
    name: أخبار الاختبار
    type: rss
    url: http://feeds:8000/feed.xml
    country: PS
    interval: 10
    allow_private: true
"""
OVERRIDE = """\
services:
  feeds:
    build: {{context: "{root}"}}
    image: akhbar:${{AKHBAR_IMAGE_TAG:-local}}
    entrypoint: ["python", "-m", "http.server", "8000", "--bind", "0.0.0.0", "--directory", "/srv"]
    volumes: ["{feeds}:/srv:ro"]
    restart: "no"
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/feed.xml')"]
      interval: 2s
      retries: 30
  setup:
    volumes: ["{config}:/app/config:ro"]
  connectors:
    volumes: ["{config}:/app/config:ro"]
    depends_on:
      feeds:
        condition: service_healthy
  processors:
    volumes: ["{config}:/app/config:ro"]
"""


def docker_unavailable() -> str | None:
    """Why the stack cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0:
        last_line = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker engine (`docker info` failed: {last_line})"
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False)
    if version.returncode != 0:
        return "the Docker Compose v2 plugin is missing (`docker compose version` failed)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    command: list[str]
    es_url: str
    elastic_password: str
    ca_cert: Path

    def compose(self, *args: str, timeout: float = 1200, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.command, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def search(self, alias: str = "akhbar-articles") -> list[dict[str, Any]]:
        verify = ssl.create_default_context(cafile=str(self.ca_cert))
        with httpx.Client(verify=verify, auth=("elastic", self.elastic_password), timeout=30) as client:
            response = client.get(f"{self.es_url}/{alias}/_search", params={"size": 50})
        if response.status_code == 404:  # alias not there yet
            return []
        response.raise_for_status()
        return [hit["_source"] for hit in response.json()["hits"]["hits"]]


def write_project(work: Path) -> tuple[Path, Path, str]:
    """The env file, the override file and the elastic password of a throw-away stack."""
    config = work / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "feeds.yaml").write_text(FEEDS_YAML, encoding="utf-8")
    feeds = work / "feeds"
    feeds.mkdir()
    shutil.copy(FEED, feeds / "feed.xml")
    password = secrets.token_urlsafe(16)
    env = {
        "ELASTIC_PASSWORD": password, "KIBANA_PASSWORD": secrets.token_urlsafe(16),
        "AKHBAR_ES_PASSWORD": secrets.token_urlsafe(16), "AKHBAR_IMAGE_TAG": "integration",
        "ES_PORT": free_port(), "KIBANA_PORT": free_port(), "KAFKA_HOST_PORT": free_port(),
        "AKHBAR_TOPIC_PARTITIONS": 2, "SETUP_TIMEOUT": 900,
    }  # fmt: skip
    env_file = work / "stack.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    override = work / "compose.test.yml"
    override.write_text(OVERRIDE.format(root=ROOT, feeds=feeds, config=config), encoding="utf-8")
    return env_file, override, password


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"needs Docker: {reason}")
    work = tmp_path_factory.mktemp("compose-stack")
    env_file, override, password = write_project(work)
    project = f"akhbar-it-{secrets.token_hex(4)}"
    command = ["docker", "compose", "-p", project, "--env-file", str(env_file),
               "-f", str(ROOT / "docker-compose.yml"), "-f", str(override)]  # fmt: skip
    es_port = next(line.split("=")[1] for line in env_file.read_text().splitlines() if line.startswith("ES_PORT="))
    running = Stack(command, f"https://localhost:{es_port}", password, work / "ca.crt")
    try:
        running.compose("up", "-d", "--build", "--wait", "--wait-timeout", "1200", timeout=2400)
        running.compose("cp", "elasticsearch:/usr/share/elasticsearch/config/certs/ca/ca.crt", str(running.ca_cert))
        yield running
    except BaseException:
        print(running.compose("logs", "--no-color", "--tail", "200", check=False).stdout)
        raise
    finally:
        running.compose("down", "--volumes", "--remove-orphans", timeout=600, check=False)


def wait_for_documents(stack: Stack, count: int, timeout: float = 300) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    documents: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        documents = stack.search()
        if len(documents) >= count:
            return documents
        time.sleep(5)
    logs = stack.compose("logs", "--no-color", "--tail", "100", "setup", "connectors", "processors", check=False)
    raise AssertionError(f"{len(documents)} of {count} articles indexed in {timeout}s\n{logs.stdout}")


def test_feed_articles_reach_elasticsearch_enriched(stack: Stack):
    documents = wait_for_documents(stack, len(EXPECTED))

    assert len(documents) == len(EXPECTED), json.dumps(documents, ensure_ascii=False)[:2000]
    for prefix, country in EXPECTED.items():
        [doc] = [d for d in documents if d["title"].startswith(prefix)]
        assert doc["language"] == "ar"
        assert doc["source"] == "compose-test"
        assert country in doc["country_codes"], (prefix, doc["country_codes"], doc["places"])
        assert any(place.get("location") for place in doc["places"]), prefix


def test_polling_again_indexes_nothing_twice(stack: Stack):
    wait_for_documents(stack, len(EXPECTED))
    time.sleep(25)  # two more polls of the feed (interval 10 s)
    assert len(stack.search()) == len(EXPECTED)


def test_setup_is_harmless_to_rerun(stack: Stack):
    result = stack.compose("run", "--rm", "--no-deps", "setup", timeout=900)
    assert "setup: done" in result.stdout
    assert "already there" in result.stdout and "kibana_system password: already set" in result.stdout
