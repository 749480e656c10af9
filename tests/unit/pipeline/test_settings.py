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
