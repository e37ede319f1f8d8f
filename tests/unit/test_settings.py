"""Settings: environment names, TOML file, precedence, masking, immutability."""

from __future__ import annotations

from pathlib import Path

import annotated_types
import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

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


def _numeric_fields() -> list[tuple[str, str, FieldInfo]]:
    """(environment variable, field name, field) of every int or float setting."""
    fields = []
    for section_name, section_field in Settings.model_fields.items():
        section = section_field.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        for name, field in section.model_fields.items():
            if field.annotation in (int, float):
                fields.append((f"SENTINEL_{section_name.upper()}_{name.upper()}", name, field))
    return fields


def _numeric_bounds() -> list[tuple[str, str, str, float]]:
    """(environment variable, field name, bound kind, bound) for every bound of a numeric setting."""
    cases = []
    for env, name, field in _numeric_fields():
        for bound in field.metadata:
            for kind in ("ge", "gt", "le", "lt"):
                if isinstance(bound, getattr(annotated_types, kind.capitalize())):
                    cases.append((env, name, kind, float(getattr(bound, kind))))
    return cases


def test_every_numeric_setting_has_a_lower_bound() -> None:
    """A negative batch size, TTL or port must be refused at start, not found at run time."""
    bounded = {env for env, _, kind, _ in _numeric_bounds() if kind in ("ge", "gt")}
    assert {env for env, _, _ in _numeric_fields()} - bounded == set()


@pytest.mark.parametrize(("env", "field", "kind", "bound"), _numeric_bounds())
def test_a_value_past_a_bound_is_refused_naming_the_field(
    env: str, field: str, kind: str, bound: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = {"ge": bound - 1, "gt": bound, "le": bound + 1, "lt": bound}[kind]
    monkeypatch.setenv(env, str(int(past)) if past == int(past) else str(past))
    with pytest.raises(ValidationError, match=field):
        Settings()
