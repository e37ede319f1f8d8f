"""Settings: environment names, TOML file, precedence, masking, immutability."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_defaults_are_documented_and_usable() -> None:
    settings = Settings()
    assert settings.redis.key_prefix == "sentinel:"
    assert settings.kafka.topic_transactions == "transactions"
    assert settings.kafka.partitions == 4
    assert all(description for *_, description in settings.describe())


def test_environment_variables_map_to_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_REDIS_URL", "redis://example:6390/2")
    monkeypatch.setenv("SENTINEL_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("SENTINEL_REDIS_KEY_PREFIX", "acme:")
    monkeypatch.setenv("SENTINEL_STREAMS_BATCH_SIZE", "42")
    settings = Settings()
    assert settings.redis.url == "redis://example:6390/2"
    assert settings.redis.key_prefix == "acme:"
    assert settings.kafka.bootstrap == "broker:9092"
    assert settings.streams.batch_size == 42


def test_toml_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "sentinel.toml"
    config.write_text('[gateway]\nport = 9100\n\n[redis]\nkey_prefix = "fromfile:"\n')
    monkeypatch.setenv("SENTINEL_CONFIG", str(config))
    monkeypatch.setenv("SENTINEL_REDIS_KEY_PREFIX", "fromenv:")
    settings = Settings()
    assert settings.gateway.port == 9100
    assert settings.redis.key_prefix == "fromenv:"


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_CONFIG", "/nonexistent/sentinel.toml")
    with pytest.raises(FileNotFoundError, match="SENTINEL_CONFIG"):
        Settings()


def test_invalid_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_GATEWAY_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_GATEWAY_API_KEYS", "admin:supersecret")
    settings = Settings()
    assert settings.gateway.api_keys.get_secret_value() == "admin:supersecret"
    assert "supersecret" not in repr(settings)
    assert "supersecret" not in str(settings.describe())


def test_settings_are_frozen_and_replace_makes_a_copy() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.redis.key_prefix = "x:"  # type: ignore[misc]
    changed = settings.replace(redis={"key_prefix": "x:"})
    assert changed.redis.key_prefix == "x:"
    assert settings.redis.key_prefix == "sentinel:"
    assert changed.kafka == settings.kafka
