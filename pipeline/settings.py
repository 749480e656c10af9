"""Settings: infrastructure configuration from the environment (AKHBAR_*), validated once at start-up.

Every variable is documented in ``.env.example``. Nothing here reads the environment at import time:
call ``load_settings()`` from an entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AKHBAR_", extra="ignore", env_file=None, env_ignore_empty=True)

    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset = start the embedded Tansu broker"
    )
    tansu_binary: Path | None = Field(default=None, description="override path of the tansu binary")
    elasticsearch_url: str | None = Field(
        default=None, description="e.g. https://localhost:9200; unset = embedded search store"
    )
    elasticsearch_username: str | None = None
    elasticsearch_password: str | None = None
    elasticsearch_api_key: str | None = None
    elasticsearch_ca_certs: Path | None = None
    elasticsearch_verify_certs: bool = True
    elasticsearch_alias: str = "akhbar-articles"
    data_dir: Path = Field(default=Path("data"), description="state, embedded store, archives")
    feeds_config: Path = Field(default=Path("config/feeds.yaml"))
    gazetteer_dir: Path | None = Field(default=None, description="unset = config/gazetteers of the repo")
    topic_partitions: int = Field(default=1, ge=1, le=64, description="partitions of the article topics")
    raw_partitions: int = Field(
        default=1, ge=1, le=64, description="partitions of news.raw.v1 (the deduplication stage)"
    )
    table_store: str = Field(
        default="memory://",
        pattern=r"^(memory|rocksdb)://",
        description="Faust table store: memory:// or rocksdb:// (RocksDB through the rocksdict package)",
    )
    worker_id: str = Field(default="akhbar-worker", description="Faust app id (consumer group)")
    session_timeout: float = Field(default=6.0, gt=0, description="seconds; Tansu holds joins for half of it")
    heartbeat_interval: float = Field(default=2.0, gt=0)
    kafka_compression: Literal["zstd", "gzip", "none"] = Field(
        default="zstd", description="codec of every producer's record batches (zstd: a third to a quarter of the bytes)"
    )
    fetch_max_wait_ms: int = Field(
        default=100, ge=10, le=5000, description="longest a worker's fetch waits (Tansu holds it that long)"
    )
    broker_rotate_mb: float = Field(
        default=2048,
        ge=0,
        description="MB the embedded broker may grow before it is restarted empty, once idle (0 = never)",
    )
    archive_raw: bool = Field(default=True, description="keep every raw record in data/archive for replay")
    keep_non_arabic: bool = Field(default=False, description="index non-Arabic articles instead of dropping")
    min_text_chars: int = Field(default=80, ge=0, description="shorter articles are dropped as too_short")
    dedup_window_days: float = Field(
        default=7.0, gt=0, le=365, description="days an article is remembered for dedup and story clustering"
    )
    cpu_processes: int | None = Field(
        default=None, ge=0, le=64, description="worker processes for extraction and enrichment; unset = one per core"
    )
    stage_batch_size: int = Field(default=32, ge=1, le=1000, description="articles a stage takes at a time")
    sink_batch_size: int = Field(default=200, ge=1)
    sink_batch_seconds: float = Field(default=1.0, gt=0)
    user_agent: str = "akhbar/0.1 (+https://github.com/akhbar-news/akhbar)"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    web_port: int | None = Field(default=None, description="Faust web/metrics port on 127.0.0.1; unset = off")
    metrics_port: int | None = Field(default=None, description="Prometheus /metrics and /healthz port; unset = off")
    metrics_host: str = Field(default="127.0.0.1", description="bind address (0.0.0.0 inside a container)")

    @property
    def compression_type(self) -> str | None:
        """``kafka_compression`` as Kafka clients name it (None: uncompressed)."""
        return None if self.kafka_compression == "none" else self.kafka_compression

    @field_validator("table_store", mode="before")
    @classmethod
    def _rocksdict_alias(cls, value: object) -> object:
        # Faust names the RocksDB store rocksdb:// whichever binding it uses; rocksdict:// made Faust import the
        # rocksdict module as if it were a store class ("'module' object is not callable") at start-up.
        if isinstance(value, str) and value.startswith("rocksdict://"):
            return "rocksdb://" + value.removeprefix("rocksdict://")
        return value

    @model_validator(mode="after")
    def _memory_tables_with_the_embedded_broker(self) -> Settings:
        if not self.kafka_bootstrap and not self.table_store.startswith("memory://"):
            raise ValueError(
                "AKHBAR_TABLE_STORE must be memory:// with the embedded broker: it keeps nothing across restarts, "
                "so a persistent table would outlive its changelog (set AKHBAR_KAFKA_BOOTSTRAP to use rocksdb://)"
            )
        return self

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def embedded_store(self) -> bool:
        return not self.elasticsearch_url

    @property
    def store_path(self) -> Path:
        return self.data_dir / "search.sqlite3"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "dead-letters"

    @property
    def stats_dir(self) -> Path:
        return self.data_dir / "stats"


def load_settings(**overrides: object) -> Settings:
    """Read and validate the environment; a bad value raises ``ConfigError`` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"AKHBAR_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise ConfigError(f"invalid environment: {problems}") from exc
