"""`akhbar setup`: topics on the real embedded broker, Elasticsearch and Kibana steps against local fake servers."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest
import typer
from kafka import KafkaAdminClient

from pipeline import setup as akhbar_setup
from pipeline.settings import Settings
from pipeline.setup import SetupError, SetupSettings, setup_command
from pipeline.topics import TopicSpec
from tests.unit.deploy.conftest import FakeServer, Request

DAY_MS = 24 * 3600 * 1000
ES_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
UNAUTHENTICATED = {"error": {"type": "security_exception", "reason": "unable to authenticate user"}, "status": 401}


def unique_specs(raw_partitions: int = 1, partitions: int = 3) -> list[TopicSpec]:
    prefix = f"setup.{uuid.uuid4().hex[:8]}"
    return [
        TopicSpec(f"{prefix}.raw", raw_partitions, 14 * DAY_MS),
        TopicSpec(f"{prefix}.articles", partitions, 7 * DAY_MS),
        TopicSpec(f"{prefix}.dlq", 1, 90 * DAY_MS),
    ]


def partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test")
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
    finally:
        admin.close()


def basic_user(request: Request) -> tuple[str, str]:
    decoded = base64.b64decode(request.headers.get("authorization", "Basic ").split(" ", 1)[1]).decode()
    user, _, password = decoded.partition(":")
    return user, password


@pytest.fixture
def fake_es(fake_server: FakeServer) -> FakeServer:
    """Elasticsearch with security on: elastic/secret is the superuser; kibana_system's password starts unset."""
    fake_server.extra_headers = ES_HEADERS
    users = {"elastic": "secret"}

    def authenticate(request: Request) -> tuple[int, object]:
        user, password = basic_user(request)
        return (200, {"username": user}) if users.get(user) == password else (401, UNAUTHENTICATED)

    def change_password(request: Request) -> tuple[int, object]:
        users["kibana_system"] = json.loads(request.body)["password"]
        return 200, {}

    fake_server.route("GET", "/_cluster/health", (200, {"cluster_name": "akhbar", "status": "yellow"}))
    fake_server.route("GET", "/_security/_authenticate", authenticate)
    for method in ("PUT", "POST"):
        fake_server.route(method, "/_security/user/kibana_system/_password", change_password)
        fake_server.route(method, "/_security/role/akhbar_pipeline", (200, {"role": {"created": True}}))
        fake_server.route(method, "/_security/user/akhbar", (200, {"created": True}))
    return fake_server


def es_settings(url: str, password: str = "secret") -> Settings:
    return Settings(elasticsearch_url=url, elasticsearch_username="elastic", elasticsearch_password=password)


# ---- Kafka topics (real broker) ----------------------------------------------------------------------------


def test_topics_are_created_with_their_partitions_and_rerun_is_harmless(kafka_bootstrap: str, monkeypatch):
    specs = unique_specs(raw_partitions=1, partitions=3)
    monkeypatch.setattr("pipeline.topics.topic_specs", lambda _settings: specs)
    settings, setup = Settings(kafka_bootstrap=kafka_bootstrap), SetupSettings()

    first = akhbar_setup.create_topics(settings, setup, time.monotonic() + 30)
    second = akhbar_setup.create_topics(settings, setup, time.monotonic() + 30)

    names = [spec.name for spec in specs]
    assert partition_counts(kafka_bootstrap, names) == {spec.name: spec.partitions for spec in specs}
    assert all(name in first for name in names) and "already there none" in first
    assert "created none" in second and all(name in second for name in names)


def test_partition_mismatch_is_reported_and_left_alone(kafka_bootstrap: str):
    [spec] = unique_specs()[:1]
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="test")
    admin.create_topics({spec.name: {"num_partitions": 2, "replication_factor": 1}})
    admin.close()

    warnings = akhbar_setup.reconcile_topics(kafka_bootstrap, [spec])

    assert len(warnings) == 1 and f"{spec.name} has 2 partitions but the settings ask for 1" in warnings[0]
    assert partition_counts(kafka_bootstrap, [spec.name]) == {spec.name: 2}


def test_unreachable_kafka_fails_with_the_address(closed_port_url: str):
    bootstrap = closed_port_url.removeprefix("http://")
    started = time.monotonic()
    with pytest.raises(SetupError, match=f"Kafka at {bootstrap} not reachable in time"):
        akhbar_setup.wait_for_kafka(bootstrap, time.monotonic() + 1.5, attempt_seconds=0.5)
    assert time.monotonic() - started < 10


# ---- Elasticsearch (fake server) ---------------------------------------------------------------------------


def test_kibana_system_password_is_set_only_when_needed(fake_es: FakeServer):
    settings, setup = es_settings(fake_es.url), SetupSettings(kibana_system_password="kibana-pw")

    assert akhbar_setup.asyncio.run(akhbar_setup.ensure_kibana_system_password(settings, setup)) == "set"
    assert akhbar_setup.asyncio.run(akhbar_setup.ensure_kibana_system_password(settings, setup)) == "already set"

    changes = [r for r in fake_es.requests if r.path.startswith("/_security/user/kibana_system/_password")]
    assert len(changes) == 1
    assert basic_user(changes[0]) == ("elastic", "secret")
    assert json.loads(changes[0].body) == {"password": "kibana-pw"}


def test_pipeline_user_gets_a_role_limited_to_akhbar_indices(fake_es: FakeServer):
    settings = es_settings(fake_es.url)
    setup = SetupSettings(pipeline_es_username="akhbar", pipeline_es_password="pipeline-pw")

    detail = akhbar_setup.asyncio.run(akhbar_setup.ensure_pipeline_user(settings, setup))

    role = next(r for r in fake_es.requests if r.path.startswith("/_security/role/"))
    user = next(r for r in fake_es.requests if r.path.startswith("/_security/user/akhbar"))
    assert json.loads(role.body)["indices"] == [{"names": ["akhbar-*", "akhbar-articles*"], "privileges": ["all"]}]
    assert "all" not in json.loads(role.body)["cluster"]
    assert json.loads(user.body) | {"password": "hidden"} == {
        "password": "hidden", "roles": ["akhbar_pipeline"], "full_name": "akhbar pipeline"}  # fmt: skip
    assert json.loads(user.body)["password"] == "pipeline-pw"
    assert "akhbar_pipeline" in detail


def test_reserved_pipeline_user_is_refused(fake_es: FakeServer):
    setup = SetupSettings(pipeline_es_username="elastic", pipeline_es_password="x")
    with pytest.raises(SetupError, match="non-reserved"):
        akhbar_setup.asyncio.run(akhbar_setup.ensure_pipeline_user(es_settings(fake_es.url), setup))


def test_wrong_elastic_password_fails_at_once(fake_es: FakeServer):
    fake_es.route("GET", "/_cluster/health", (401, UNAUTHENTICATED))
    started = time.monotonic()
    with pytest.raises(SetupError, match="refused user 'elastic' \\(HTTP 401\\)"):
        akhbar_setup.asyncio.run(akhbar_setup.wait_for_elasticsearch(es_settings(fake_es.url, "bad"), started + 30))
    assert time.monotonic() - started < 5


def test_elasticsearch_not_ready_in_time(fake_es: FakeServer):
    fake_es.route("GET", "/_cluster/health", (503, {"error": "master_not_discovered_exception", "status": 503}))
    with pytest.raises(SetupError, match="not ready in time"):
        akhbar_setup.asyncio.run(
            akhbar_setup.wait_for_elasticsearch(es_settings(fake_es.url), time.monotonic() + 0.5, poll=0.1)
        )


# ---- the command -------------------------------------------------------------------------------------------


def test_command_skips_what_is_not_configured(monkeypatch, capsys):
    for name in ("AKHBAR_KAFKA_BOOTSTRAP", "AKHBAR_ELASTICSEARCH_URL", "AKHBAR_KIBANA_URL"):
        monkeypatch.delenv(name, raising=False)
    setup_command(timeout=5)
    out = capsys.readouterr().out
    assert out.count("skipped") == 3 and out.rstrip().endswith("setup: done")


def test_command_runs_every_step_then_rerun_is_harmless(
    kafka_bootstrap: str, fake_es: FakeServer, tmp_path: Path, monkeypatch, capsys
):
    specs = unique_specs()
    monkeypatch.setattr("pipeline.topics.topic_specs", lambda _settings: specs)
    applied: list[str] = []

    async def fake_template(settings: Settings) -> str:  # the sink's own call is tested by its owner
        applied.append(settings.elasticsearch_alias)
        return "alias ready"

    monkeypatch.setattr(akhbar_setup, "apply_index_template", fake_template)
    fake_es.route(
        "GET", "/api/status", (200, {"version": {"number": "9.5.3"}, "status": {"overall": {"level": "available"}}})
    )
    fake_es.route("POST", "/api/saved_objects/_import", (200, {"success": True, "successCount": 1}))
    (tmp_path / "objects.ndjson").write_text('{"type": "index-pattern", "id": "akhbar-articles"}\n', encoding="utf-8")
    env = {
        "AKHBAR_KAFKA_BOOTSTRAP": kafka_bootstrap, "AKHBAR_ELASTICSEARCH_URL": fake_es.url,
        "AKHBAR_ELASTICSEARCH_USERNAME": "elastic", "AKHBAR_ELASTICSEARCH_PASSWORD": "secret",
        "AKHBAR_KIBANA_URL": fake_es.url, "AKHBAR_KIBANA_OBJECTS_DIR": str(tmp_path),
        "AKHBAR_KIBANA_SYSTEM_PASSWORD": "kibana-pw",
        "AKHBAR_PIPELINE_ES_USERNAME": "akhbar", "AKHBAR_PIPELINE_ES_PASSWORD": "pipeline-pw",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    setup_command(timeout=30)
    setup_command(timeout=30)

    out = capsys.readouterr().out
    assert out.count("setup: done") == 2
    assert "kibana_system password: set" in out and "kibana_system password: already set" in out
    assert out.count("kibana saved objects: 1 objects from objects.ndjson into Kibana 9.5.3") == 2
    assert applied == ["akhbar-articles", "akhbar-articles"]
    imports = [r for r in fake_es.requests if r.path.startswith("/api/saved_objects/_import")]
    assert len(imports) == 2 and all(basic_user(r) == ("elastic", "secret") for r in imports)


def test_command_exits_non_zero_naming_the_failed_step(fake_es: FakeServer, monkeypatch, capsys):
    monkeypatch.delenv("AKHBAR_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("AKHBAR_KIBANA_URL", raising=False)
    monkeypatch.setenv("AKHBAR_ELASTICSEARCH_URL", fake_es.url)
    monkeypatch.setenv("AKHBAR_ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("AKHBAR_ELASTICSEARCH_PASSWORD", "secret")
    monkeypatch.setenv("AKHBAR_PIPELINE_ES_USERNAME", "akhbar")
    monkeypatch.setenv("AKHBAR_PIPELINE_ES_PASSWORD", "pipeline-pw")
    fake_es.route("PUT", "/_security/role/akhbar_pipeline", (400, {"error": {"type": "illegal_argument_exception",
                  "reason": "unknown cluster privilege [manage_pipeline]"}, "status": 400}))  # fmt: skip

    with pytest.raises(typer.Exit) as info:
        setup_command(timeout=10)

    assert info.value.exit_code == 1
    err = capsys.readouterr().err
    assert "FAILED at 'pipeline user'" in err and "HTTP 400" in err and "manage_pipeline" in err


def test_invalid_environment_exits_with_code_2(monkeypatch, capsys):
    monkeypatch.setenv("AKHBAR_TOPIC_REPLICATION", "zero")
    with pytest.raises(typer.Exit) as info:
        setup_command(timeout=1)
    assert info.value.exit_code == 2
    assert "AKHBAR_TOPIC_REPLICATION" in capsys.readouterr().err
