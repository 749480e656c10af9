"""Environment settings: defaults for embedded mode, errors that name the variable."""

from __future__ import annotations

import pytest

from pipeline.settings import load_settings
from processors.errors import ConfigError


def test_defaults_are_embedded(monkeypatch):
    monkeypatch.delenv("AKHBAR_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("AKHBAR_ELASTICSEARCH_URL", raising=False)
    settings = load_settings()
    assert settings.embedded_broker and settings.embedded_store
    assert settings.store_path.name.endswith(".sqlite3")


def test_environment_is_read(monkeypatch):
    monkeypatch.setenv("AKHBAR_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("AKHBAR_TOPIC_PARTITIONS", "4")
    settings = load_settings()
    assert settings.kafka_bootstrap == "kafka:9092" and not settings.embedded_broker
    assert settings.topic_partitions == 4


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("AKHBAR_TOPIC_PARTITIONS", "many")
    with pytest.raises(ConfigError, match="AKHBAR_TOPIC_PARTITIONS"):
        load_settings()


def test_empty_variables_mean_unset(monkeypatch):
    monkeypatch.setenv("AKHBAR_METRICS_PORT", "")
    monkeypatch.setenv("AKHBAR_KAFKA_BOOTSTRAP", "")
    settings = load_settings()
    assert settings.metrics_port is None and settings.embedded_broker


def test_the_dedup_window_reaches_both_stateful_stages(monkeypatch) -> None:
    from pipeline.settings import load_settings
    from pipeline.worker import chain_config

    monkeypatch.setenv("AKHBAR_DEDUP_WINDOW_DAYS", "2.5")
    config = chain_config(load_settings())
    assert config.dedup.window_days == config.cluster.window_days == 2.5
    monkeypatch.setenv("AKHBAR_DEDUP_WINDOW_DAYS", "0")
    with pytest.raises(ConfigError, match="AKHBAR_DEDUP_WINDOW_DAYS"):
        load_settings()


def test_a_misspelt_table_store_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AKHBAR_TABLE_STORE", "rockdict://")
    with pytest.raises(ConfigError, match="AKHBAR_TABLE_STORE"):
        load_settings()
    monkeypatch.setenv("AKHBAR_TABLE_STORE", "rocksdict://")  # the package's name, as earlier docs said
    monkeypatch.setenv("AKHBAR_KAFKA_BOOTSTRAP", "kafka:9092")
    assert load_settings().table_store == "rocksdb://"
    monkeypatch.delenv("AKHBAR_KAFKA_BOOTSTRAP")  # the embedded broker keeps nothing: tables must not either
    with pytest.raises(ConfigError, match="memory:// with the embedded broker"):
        load_settings()


def test_a_quiet_worker_keeps_debug_records_off():
    """Faust's spinner would set the root logger to DEBUG at WARNING: every Faust debug call then builds a record."""
    import logging

    import faust

    from pipeline.worker import faust_worker

    root = logging.getLogger()
    level = root.level
    try:
        worker = faust_worker(faust.App("t-quiet", broker="kafka://127.0.0.1:1"), "WARNING")
        root.setLevel(logging.WARNING)
        worker.on_setup_root_logger(root, logging.WARNING)
        assert root.level == logging.WARNING and not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(level)


def test_the_kafka_codec_reaches_the_worker_producer(monkeypatch) -> None:
    from pipeline.app import create_app

    assert load_settings().compression_type == "zstd"  # the default: Tansu keeps every byte in memory
    monkeypatch.setenv("AKHBAR_KAFKA_COMPRESSION", "none")
    settings = load_settings()
    assert settings.compression_type is None
    assert create_app(settings, "127.0.0.1:9").conf.producer_compression_type is None
    monkeypatch.setenv("AKHBAR_KAFKA_COMPRESSION", "gzip")
    assert create_app(load_settings(), "127.0.0.1:9").conf.producer_compression_type == "gzip"
    monkeypatch.setenv("AKHBAR_KAFKA_COMPRESSION", "lz5")
    with pytest.raises(ConfigError, match="AKHBAR_KAFKA_COMPRESSION"):
        load_settings()


def test_faust_checks_changelog_consistency_except_on_a_broker_akhbar_run_replaces() -> None:
    """A rotated embedded broker's changelogs start again at offset 0: the check would crash the worker."""
    from pipeline.app import create_app

    assert create_app(load_settings(), "127.0.0.1:9").conf.recovery_consistency_check
    assert not create_app(load_settings(), "127.0.0.1:9", replaceable_broker=True).conf.recovery_consistency_check
