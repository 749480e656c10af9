"""Setup (deployment stage): the one-shot `akhbar setup` that prepares Kafka, Elasticsearch and Kibana.

Steps, in order, each idempotent so that re-running setup is harmless: create the topics (and re-apply their
retention), wait for Elasticsearch, set the ``kibana_system`` password when it is not set yet, create the
pipeline's own Elasticsearch role and user, apply the index template and alias, wait for Kibana and import the
saved objects. The first step that fails stops the run with exit code 1 and a message naming the step.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline import kibana
from pipeline.settings import Settings, load_settings
from processors.errors import AkhbarError, ConfigError

PIPELINE_ROLE = "akhbar_pipeline"
RESERVED_USERS = frozenset({"elastic", "kibana", "kibana_system", "logstash_system", "beats_system",
                            "apm_system", "remote_monitoring_user"})  # fmt: skip


class SetupSettings(BaseSettings):
    """Variables only `akhbar setup` reads (the pipeline's own settings live in pipeline/settings.py)."""

    model_config = SettingsConfigDict(env_prefix="AKHBAR_", extra="ignore", env_file=None, env_ignore_empty=True)

    kibana_url: str | None = Field(default=None, description="e.g. http://kibana:5601; unset = skip Kibana")
    kibana_username: str | None = Field(default=None, description="unset = AKHBAR_ELASTICSEARCH_USERNAME")
    kibana_password: str | None = Field(default=None, description="unset = AKHBAR_ELASTICSEARCH_PASSWORD")
    kibana_ca_certs: Path | None = None
    kibana_objects_dir: Path = Path("config/kibana")
    kibana_system_password: str | None = Field(default=None, description="unset = leave kibana_system alone")
    pipeline_es_username: str | None = Field(default=None, description="unset = create no pipeline user")
    pipeline_es_password: str | None = None
    topic_replication: int = Field(default=1, ge=1, le=16)


class SetupError(AkhbarError):
    """A setup step failed; the message says what to check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, stage="setup")


Step = tuple[str, Callable[[float], str]]


def setup_command(
    timeout: Annotated[float, typer.Option(help="seconds to wait for Kafka, Elasticsearch and Kibana")] = 300.0,
) -> None:
    """Create the topics, prepare Elasticsearch and import the Kibana saved objects (safe to re-run)."""
    try:
        settings, setup = load_settings(), _load_setup_settings()
    except ConfigError as exc:
        typer.echo(f"setup: {exc}", err=True)
        raise typer.Exit(2) from exc
    deadline = time.monotonic() + timeout
    for name, run in plan(settings, setup):
        typer.echo(f"setup: {name} ...")
        try:
            detail = run(deadline)
        except (AkhbarError, kibana.KibanaError) as exc:
            typer.echo(f"setup: FAILED at '{name}': {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"setup: {name}: {detail}")
    typer.echo("setup: done")


def _load_setup_settings() -> SetupSettings:
    try:
        return SetupSettings()
    except ValidationError as exc:
        problems = "; ".join(f"AKHBAR_{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid environment: {problems}") from exc


def plan(settings: Settings, setup: SetupSettings) -> list[Step]:
    """The steps that apply to this configuration (a service that is not configured is skipped, and said so)."""
    steps: list[Step] = []
    if settings.kafka_bootstrap:
        steps.append(("kafka topics", lambda deadline: create_topics(settings, setup, deadline)))
    else:
        steps.append(("kafka topics", lambda _: "skipped: AKHBAR_KAFKA_BOOTSTRAP unset (embedded broker)"))
    if settings.elasticsearch_url:
        steps += [
            ("elasticsearch health", lambda deadline: asyncio.run(wait_for_elasticsearch(settings, deadline))),
            ("kibana_system password", lambda _: asyncio.run(ensure_kibana_system_password(settings, setup))),
            ("pipeline user", lambda _: asyncio.run(ensure_pipeline_user(settings, setup))),
            ("index template and alias", lambda _: asyncio.run(apply_index_template(settings))),
        ]
    else:
        steps.append(("elasticsearch", lambda _: "skipped: AKHBAR_ELASTICSEARCH_URL unset (embedded store)"))
    if setup.kibana_url:
        steps.append(("kibana saved objects", lambda deadline: import_kibana_objects(settings, setup, deadline)))
    else:
        steps.append(("kibana saved objects", lambda _: "skipped: AKHBAR_KIBANA_URL unset"))
    return steps


# ---- Kafka -------------------------------------------------------------------------------------------------


def create_topics(settings: Settings, setup: SetupSettings, deadline: float) -> str:
    """Create the missing topics (waiting for the broker), then check partitions and re-apply retention."""
    from pipeline.topics import ensure_topics, topic_specs

    assert settings.kafka_bootstrap  # plan() only schedules this step when it is set
    specs = topic_specs(settings)
    wait_for_kafka(settings.kafka_bootstrap, deadline)
    created = ensure_topics(settings.kafka_bootstrap, specs, setup.topic_replication, _remaining(deadline))
    warnings = reconcile_topics(settings.kafka_bootstrap, specs)
    for warning in warnings:
        typer.echo(f"setup: WARNING {warning}", err=True)
    existing = sorted({spec.name for spec in specs} - set(created))
    return f"created {sorted(created) or 'none'}, already there {existing or 'none'}"


def wait_for_kafka(bootstrap: str, deadline: float, attempt_seconds: float = 5.0) -> None:
    """Wait until the broker answers. A plain TCP probe comes first: kafka-python's client waits 30 s per
    failed bootstrap and leaves its sockets behind when its constructor fails."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        attempt = min(attempt_seconds, _remaining(deadline))
        if _tcp_reachable(bootstrap, attempt):
            try:
                KafkaAdminClient(
                    bootstrap_servers=bootstrap, client_id="akhbar-setup", bootstrap_timeout_ms=int(1000 * attempt)
                ).close()
                return
            except (KafkaError, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}"
        else:
            last = "connection refused or timed out"
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    raise SetupError(f"Kafka at {bootstrap} not reachable in time ({last})")


def _tcp_reachable(bootstrap: str, timeout: float) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
            return True
        except (OSError, ValueError):
            continue
    return False


def reconcile_topics(bootstrap: str, specs: list[Any]) -> list[str]:
    """Re-apply each topic's retention; return a warning per topic whose partition count differs.

    Partitions are never changed here: adding partitions moves keys to other partitions and breaks the
    co-partitioning of Faust tables with their changelogs (docs/deployment.md says how to re-partition).
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="akhbar-setup")
    try:
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([s.name for s in specs])}
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, spec.name, configs={"retention.ms": str(spec.retention_ms)})
            for spec in specs
        ]
        results = admin.alter_configs(resources, raise_on_unknown=False, incremental=True).get("topic", {})
    finally:
        admin.close()
    failed = {name: result for name, result in results.items() if result != "OK"}
    if failed:
        raise SetupError(f"could not set the retention of {failed}")
    return [
        f"topic {spec.name} has {partitions.get(spec.name)} partitions but the settings ask for "
        f"{spec.partitions}; setup does not change partitions (see docs/deployment.md, 'Re-partitioning')"
        for spec in specs
        if partitions.get(spec.name) != spec.partitions
    ]


def _remaining(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


# ---- Elasticsearch -----------------------------------------------------------------------------------------


def elasticsearch_client(settings: Settings, basic_auth: tuple[str, str] | None = None) -> Any:
    """An async client for the configured cluster (the setup's credentials unless ``basic_auth`` is given)."""
    from elasticsearch import AsyncElasticsearch

    options: dict[str, Any] = {"request_timeout": 30, "verify_certs": settings.elasticsearch_verify_certs}
    if basic_auth:
        options["basic_auth"] = basic_auth
    elif settings.elasticsearch_api_key:
        options["api_key"] = settings.elasticsearch_api_key
    elif settings.elasticsearch_username:
        options["basic_auth"] = (settings.elasticsearch_username, settings.elasticsearch_password or "")
    if settings.elasticsearch_ca_certs and str(settings.elasticsearch_url).startswith("https"):
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return AsyncElasticsearch(settings.elasticsearch_url, **options)


async def wait_for_elasticsearch(settings: Settings, deadline: float, poll: float = 2.0) -> str:
    """Wait until the cluster is at least yellow; wrong credentials fail at once."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException

    last = "no answer yet"
    async with elasticsearch_client(settings) as es:
        while True:
            try:
                health = await es.cluster.health(wait_for_status="yellow", timeout="5s")
                return f"cluster {health['cluster_name']} is {health['status']}"
            except (AuthenticationException, AuthorizationException) as exc:
                raise SetupError(
                    f"Elasticsearch refused user {settings.elasticsearch_username!r} (HTTP {exc.meta.status}); "
                    "ELASTIC_PASSWORD only takes effect when the data volume is created"
                ) from exc
            except (ApiError, TransportError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + poll > deadline:
                raise SetupError(f"Elasticsearch at {settings.elasticsearch_url} not ready in time ({last})")
            await asyncio.sleep(poll)


async def ensure_kibana_system_password(settings: Settings, setup: SetupSettings) -> str:
    """Set the password Kibana logs in with, unless it already works (Kibana retries until it does)."""
    from elasticsearch import AuthenticationException

    if not setup.kibana_system_password:
        return "skipped: AKHBAR_KIBANA_SYSTEM_PASSWORD unset"
    async with elasticsearch_client(settings, ("kibana_system", setup.kibana_system_password)) as as_kibana:
        try:
            await as_kibana.security.authenticate()
            return "already set"
        except AuthenticationException:
            pass
    async with elasticsearch_client(settings) as es:
        await _api(es.security.change_password(username="kibana_system", password=setup.kibana_system_password))
    return "set"


async def ensure_pipeline_user(settings: Settings, setup: SetupSettings) -> str:
    """A role limited to the akhbar indices and a user with it, so the pipeline never runs as a superuser."""
    if not setup.pipeline_es_username:
        return "skipped: AKHBAR_PIPELINE_ES_USERNAME unset"
    if setup.pipeline_es_username in RESERVED_USERS or not setup.pipeline_es_password:
        raise SetupError("AKHBAR_PIPELINE_ES_USERNAME must be a non-reserved user with a password")
    index_patterns = sorted({"akhbar-*", f"{settings.elasticsearch_alias}*"})
    async with elasticsearch_client(settings) as es:
        await _api(
            es.security.put_role(
                name=PIPELINE_ROLE,
                cluster=["monitor", "manage_index_templates", "manage_ilm", "manage_pipeline"],
                indices=[{"names": index_patterns, "privileges": ["all"]}],
            )
        )
        await _api(
            es.security.put_user(
                username=setup.pipeline_es_username,
                password=setup.pipeline_es_password,
                roles=[PIPELINE_ROLE],
                full_name="akhbar pipeline",
            )
        )
    return f"user {setup.pipeline_es_username!r} with role {PIPELINE_ROLE} on {index_patterns}"


async def apply_index_template(settings: Settings) -> str:
    """The index template and the alias, by the sink's own code (the same call the sink makes at start-up)."""
    from pipeline.sinks.elasticsearch import ensure_elasticsearch

    await _api(ensure_elasticsearch(settings))
    return f"alias {settings.elasticsearch_alias} ready"


async def _api(call: Any) -> Any:
    """Await an Elasticsearch call; turn its errors into a SetupError carrying the server's reason."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    try:
        return await call
    except ApiError as exc:
        raise SetupError(f"Elasticsearch answered HTTP {exc.meta.status}: {exc.message} {exc.info}") from exc
    except TransportError as exc:
        raise SetupError(f"Elasticsearch unreachable: {exc}") from exc


# ---- Kibana ------------------------------------------------------------------------------------------------


def import_kibana_objects(settings: Settings, setup: SetupSettings, deadline: float) -> str:
    """Wait for Kibana, then import config/kibana/*.ndjson (overwriting objects with the same ids)."""
    assert setup.kibana_url  # plan() only schedules this step when it is set
    files = kibana.saved_object_files(setup.kibana_objects_dir)
    username = setup.kibana_username or settings.elasticsearch_username
    password = setup.kibana_password or settings.elasticsearch_password
    with kibana.kibana_client(setup.kibana_url, username, password, setup.kibana_ca_certs) as client:
        version = kibana.wait_until_available(client, deadline)
        result = kibana.import_saved_objects(client, files)
    for warning in result.warnings:
        typer.echo(f"setup: WARNING Kibana: {warning}", err=True)
    return f"{result.success_count} objects from {', '.join(result.files)} into Kibana {version}"
