"""Configuration: the one place that reads the environment (invariant 6).

Every value comes from a ``SENTINEL_<SECTION>_<FIELD>`` environment variable, then from an
optional TOML file (``SENTINEL_CONFIG``, tables named after the sections), then from the
defaults documented here. ``sentinel config`` prints the effective values, secrets masked.

    SENTINEL_REDIS_URL=redis://10.0.0.5:6379/0        -> settings.redis.url
    SENTINEL_KAFKA_BOOTSTRAP=redpanda:9092            -> settings.kafka.bootstrap
    [gateway] port = 8080   (in the TOML file)        -> settings.gateway.port
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.errors import ConfigError

CONFIG_FILE_ENV = "SENTINEL_CONFIG"


class Section(BaseModel):
    """A frozen group of settings for one component."""

    model_config = ConfigDict(frozen=True, extra="forbid")


REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")


class RedisSettings(Section):
    url: str | None = Field(
        None,
        description="Redis URL; unset starts an embedded redis-server. A Redis Cluster: "
        "redis+cluster://host:port[,host:port...] (core.connect; streams then shard, streams.shards).",
        pattern=r"^(redis|rediss|unix|redis\+cluster|rediss\+cluster)://",
    )
    key_prefix: str = Field("sentinel:", description="Prefix of every key and stream Sentinel writes.")
    server_bin: str = Field("redis-server", description="redis-server binary for the embedded Redis.")
    port: int = Field(0, ge=0, le=65535, description="Port of the embedded Redis (0: a free one).")
    appendonly: bool = Field(True, description="Embedded Redis keeps an append-only file in its data dir.")
    appendfsync: Literal["everysec", "always"] = Field(
        "everysec", description="Embedded Redis fsync policy: everysec may lose the last second on a crash."
    )


class KafkaSettings(Section):
    bootstrap: str | None = Field(None, description="Broker bootstrap servers; unset starts a local broker.")
    broker: str = Field(
        "auto", description="Local broker: auto (redpanda if on PATH, else tansu), tansu, redpanda."
    )
    broker_bin: str | None = Field(None, description="Path of the local broker binary (default: found).")
    port: int = Field(0, ge=0, le=65535, description="Port of the local broker (0: a free one).")
    topic_transactions: str = Field("transactions", description="Topic the transactions are published to.")
    topic_labels: str = Field("labels", description="Topic the delayed labels are published to.")
    partitions: int = Field(4, ge=1, le=256, description="Partitions of each topic created by Sentinel.")
    retention_ms: int = Field(
        86_400_000,
        ge=60_000,
        description="retention.ms of the topics Sentinel creates (the mirror copies "
        "within seconds; the rest is a replay buffer).",
    )
    retention_bytes: int = Field(
        1 << 30, ge=1 << 20, description="retention.bytes per partition of the topics Sentinel creates."
    )
    linger_ms: int = Field(
        20,
        ge=0,
        le=1_000,
        description="linger.ms of the simulator's producer: up to this much publish latency buys fewer, "
        "larger record batches (the embedded broker's fetch cost grows with their number).",
    )
    recycle_messages: int = Field(
        0,
        ge=0,
        description="For a broker without retention only (the embedded Tansu; `sentinel up` sets it): once "
        "the topics hold this many messages the mirror copies them all, then deletes and recreates the "
        "topics while producers hold (0: never).",
    )


class StreamsSettings(Section):
    shards: int = Field(
        1,
        ge=1,
        le=1024,
        description="Stream shards, each its own hash-tagged key set (streams.keys.Shards); broker "
        "partition p feeds shard p mod shards. 1 on one Redis keeps the plain key names.",
    )
    batch_size: int = Field(500, ge=1, le=10_000, description="Entries read per XREADGROUP.")
    block_ms: int = Field(100, ge=0, description="How long a read blocks waiting for entries.")
    batch_linger_ms: int = Field(
        0,
        ge=0,
        le=1_000,
        description="After a read shorter than batch_size, wait this long once and add what arrived "
        "meanwhile: fewer, larger batches (less CPU per event) for up to this much latency (0: off).",
    )
    claim_idle_ms: int = Field(30_000, ge=100, description="Pending this long, an entry is reclaimed.")
    max_deliveries: int = Field(5, ge=1, description="Deliveries before an entry is dead-lettered.")
    max_event_bytes: int = Field(64_000, ge=1_000, description="Larger entries are dead-lettered unread.")
    backlog_limit: int = Field(100_000, ge=100, description="Mirror pauses when a stream backlog passes it.")
    history_max_entries: int = Field(
        200_000, ge=100, description="Entries kept (about) in streams no group reads (tx.scored, alerts)."
    )
    history_max_age_s: int = Field(
        0, ge=0, description="History streams also drop entries older than this (0: by length only)."
    )
    pipeline: str = Field(
        "infra.pipeline.table:PIPELINE",
        description="module:attribute of the pipeline table `sentinel fn` runs.",
    )
    history_stream_entries: dict[str, int] = Field(
        {"tx.features": 50_000},
        description="Per history stream, a smaller entry cap than history_max_entries (JSON object).",
    )
    trim_interval_ms: int = Field(1_000, ge=0, description="How often a worker trims its input (0: never).")
    latency_samples: int = Field(1_000, ge=10, le=100_000, description="Batch latencies kept per function.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus port of `sentinel fn run` (0: off).")
    mirror_group: str = Field("sentinel-mirror", description="Broker consumer group of the mirror.")
    mirror_batch: int = Field(500, ge=1, le=10_000, description="Broker messages copied per Redis step.")
    fetch_wait_max_ms: int = Field(
        10, ge=1, le=1_000, description="Mirror fetch.wait.max.ms (broker hop latency)."
    )
    session_timeout_ms: int = Field(
        6_000, ge=1_000, description="Mirror session.timeout.ms (rebalance speed)."
    )


class GatewaySettings(Section):
    host: str = Field("127.0.0.1", description="Address the gateway binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the gateway listens on.")
    workers: int = Field(1, ge=1, le=64, description="Gateway worker processes.")
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="Comma-separated role:key pairs, e.g. 'admin:k1,scorer:sha256:<hex>' (a key or its SHA-256).",
    )
    auth_max_failures: int = Field(
        20, ge=1, description="Failed authentications from one address per window before it gets 429."
    )
    auth_failure_window_s: float = Field(
        60.0, gt=0, le=86_400, description="Window of auth_max_failures; a refused address waits it out."
    )
    cors_origins: tuple[str, ...] = Field(("http://127.0.0.1:3000",), description="Allowed CORS origins.")
    max_body_bytes: int = Field(1_000_000, ge=1_000, description="Largest accepted request body.")
    max_batch: int = Field(1_000, ge=1, description="Most transactions in one batch request.")
    publish_timeout_s: float = Field(
        10.0,
        ge=0.5,
        le=300,
        description="POST /v1/transactions: the broker must acknowledge within this, else 503.",
    )
    ready_max_lag: int = Field(
        10_000, ge=0, description="/readyz fails when a consumer group lags more entries than this."
    )
    events_max_clients: int = Field(100, ge=1, le=10_000, description="Concurrent /v1/events streams.")
    events_max_seconds: float = Field(
        3_600, gt=0, le=86_400, description="Longest life of one /v1/events stream (client reconnects)."
    )
    page_max: int = Field(500, ge=1, le=10_000, description="Most items one list request returns.")


class FeatureSettings(Section):
    state_ttl_s: int = Field(
        200 * 86_400,
        ge=60,
        description="Feature state of an entity expires after this long idle. Keep it above the longest "
        "window (7 days) of event time; the local stack, whose replay compresses event time, sets less.",
    )
    vector_ttl_s: int = Field(
        900, ge=60, description="A computed feature vector is kept this long (redeliveries get it back)."
    )
    result_ttl_s: int = Field(
        7 * 86_400, ge=60, description="A transaction's score result record lives this long."
    )
    history_per_entity: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Newest scored transactions indexed per card and per client (their history in "
        "the dashboard's case view and forensics); the index expires with the result records.",
    )
    label_ttl_s: int = Field(
        90 * 86_400, ge=60, description="A stored label (for retraining) lives this long."
    )
    label_wait_s: int = Field(
        86_400,
        ge=0,
        description="A label whose transaction is not scored yet waits this long for the score, "
        "then is stored unscored.",
    )
    label_waiting_max: int = Field(
        1_000_000,
        ge=0,
        description="At most this many labels wait for their score; past it the oldest are stored unscored.",
    )


class ModelSettings(Section):
    registry_dir: Path = Field(Path(".sentinel/models"), description="Directory of the model registry.")
    algorithm: str = Field(
        "lightgbm", pattern="^(lightgbm|xgboost|catboost|ensemble)$", description="Default algorithm."
    )
    test_fraction: float = Field(0.2, gt=0, lt=0.5, description="Latest share of rows held out as test.")
    calibration_fraction: float = Field(
        0.15, gt=0, lt=0.5, description="Latest share of the pre-test rows used to calibrate."
    )
    rounds: int = Field(600, ge=10, le=10_000, description="Most boosting rounds (early stopping cuts).")
    seed: int = Field(7, ge=0, description="Random seed of training and tuning.")
    tune_trials: int = Field(20, ge=1, le=500, description="Trials of the --tune hyperparameter search.")
    tune_timeout_s: float = Field(600, gt=0, description="Wall-clock bound of the --tune search.")
    review_fee: float = Field(3.0, ge=0, description="Cost of sending one transaction to manual review.")
    decline_fee: float = Field(10.0, ge=0, description="Fixed cost of declining a legitimate payment.")
    decline_amount_share: float = Field(
        0.1, ge=0, le=1, description="Share of a wrongly declined amount lost (customer friction)."
    )
    max_reasons: int = Field(5, ge=1, le=50, description="Reasons attached to a reviewed/declined score.")
    time_correlation: float = Field(
        0.5, gt=0, le=1, description="Features rank-correlated with TransactionDT above this are dropped."
    )
    v_correlation: float = Field(
        0.75, gt=0, le=1, description="V columns correlated above this (same NaN pattern) keep one."
    )
    reload_interval_s: float = Field(
        2.0, gt=0, le=3600, description="How often a scorer checks the registry for a new champion."
    )


class StrategySettings(Section):
    review_threshold: float = Field(0.3, ge=0, le=1, description="Default probability from which to review.")
    decline_threshold: float = Field(
        0.8, ge=0, le=1, description="Default probability from which to decline."
    )


class JobsSettings(Section):
    queue: str = Field("sentinel", description="RQ queue the model lifecycle jobs run on.")
    redis_url: str | None = Field(
        None,
        description="One plain Redis for the RQ queues and rq-scheduler (RQ does not run on a Redis "
        "Cluster); unset: SENTINEL_REDIS_URL. Set it when SENTINEL_REDIS_URL names a cluster: the jobs "
        "then queue here and read the pipeline's data on the cluster.",
        pattern=r"^(redis|rediss|unix)://",
    )
    drift_interval_s: int = Field(300, ge=10, description="Seconds between scheduled drift checks.")
    drift_window: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="Latest scored transactions (event time) a drift check reads.",
    )
    drift_history: int = Field(500, ge=1, le=100_000, description="Drift reports kept (newest first).")
    drift_min_rows: int = Field(
        500, ge=10, description="A drift check with fewer scored rows reports nothing."
    )
    performance_bucket_s: int = Field(
        86_400, ge=60, description="Event-time bucket of the estimated vs realised performance (seconds)."
    )
    recalibration_min_labels: int = Field(
        1_000,
        ge=10,
        description="Arrived labels in the drift window from which the estimate before labels "
        "re-fits the score's calibration on them when the window is not stable (fewer, or a "
        "stable window: the champion's own calibration).",
    )
    recalibration_min_fraud: int = Field(
        30, ge=1, description="Frauds among those labels needed to re-fit the calibration."
    )
    retrain_interval_s: int = Field(86_400, ge=60, description="Seconds between scheduled retrains.")
    retrain_cooldown_s: int = Field(
        3_600, ge=0, description="After a retrain, drift or a PR-AUC drop triggers the next no sooner."
    )
    pr_auc_floor: float = Field(
        0.3, ge=0, le=1, description="Estimated or realised PR-AUC below this triggers a retrain."
    )
    label_horizon_s: int = Field(
        60 * 86_400,
        ge=0,
        description="Event time after which a transaction without a label counts as legitimate "
        "(chargebacks: most arrive within 60 days).",
    )
    retrain_max_rows: int = Field(50_000, ge=1_000, description="Most (latest) rows a retrain uses.")
    retrain_min_rows: int = Field(2_000, ge=100, description="Fewer labelled rows than this: no retrain.")
    retrain_timeout_s: int = Field(1_800, ge=10, description="RQ job_timeout of a retrain.")
    shadow_labels: int = Field(
        1_000, ge=10, description="Labelled transactions a challenger is shadow-scored on before judging."
    )
    promotion_margin: float = Field(
        0.0, ge=0, le=1, description="PR-AUC gain whose bootstrap lower bound must exceed this to promote."
    )
    bootstrap_rounds: int = Field(200, ge=20, le=5_000, description="Bootstrap resamples of a comparison.")
    ece_tolerance: float = Field(
        0.01, ge=0, le=1, description="A candidate's ECE may exceed the champion's by at most this."
    )


class NotifySettings(Section):
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="POST every alert here (JSON, HMAC-signed); unset: no notifications.",
    )
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key of the X-Sentinel-Signature header (needed with the URL)."
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="Seconds one webhook request may take.")
    attempts: int = Field(5, ge=1, le=20, description="Tries per alert before it is dead-lettered.")
    backoff_s: float = Field(0.5, ge=0, le=60, description="Wait before the second try; doubles per try.")
    backoff_max_s: float = Field(8.0, ge=0, le=600, description="Longest wait between two tries.")

    @model_validator(mode="after")
    def _secret_with_url(self) -> NotifySettings:
        if self.webhook_url and not self.webhook_secret.get_secret_value():
            raise ValueError("a webhook URL needs SENTINEL_NOTIFY_WEBHOOK_SECRET (its requests are signed)")
        return self


class LocalSettings(Section):
    state_dir: Path = Field(Path(".sentinel"), description="Data, logs and pids of the local stack.")
    synth_rows: int = Field(100_000, ge=2_000, description="Synthetic rows generated on the first `up`.")
    stream_fraction: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Latest share of the dataset the stack streams; its model learns only the rows "
        "before (out of time, as in production), so live quality is measured on unseen data.",
    )
    algorithm: str = Field("lightgbm", description="Algorithm of the first model `up` trains.")
    rate: float = Field(100.0, gt=0, le=100_000, description="Transactions/s the stack's simulator sends.")
    limit: int = Field(0, ge=0, description="Transactions the simulator sends (0: the whole dataset, once).")
    concurrency: str = Field(
        "mirror=1,enrich=1,score=1,label=1", description="Processes per stack service (honcho -c)."
    )
    rq_dashboard_port: int = Field(9181, ge=1, le=65535, description="Port of the RQ dashboard.")
    dashboard_port: int = Field(3000, ge=1, le=65535, description="Port of the analyst dashboard (Reflex).")
    dashboard_host: str = Field("127.0.0.1", description="Address the analyst dashboard binds to.")
    dashboard_gateway_url: str | None = Field(
        None, description="Gateway URL the dashboard reads (default: this gateway's host and port)."
    )
    retention_s: int = Field(
        600,
        ge=60,
        description="How long the local stack keeps per-transaction records (results, labels, vectors, "
        "history streams), so a demo left running plateaus instead of growing.",
    )
    broker_max_messages: int = Field(
        20_000, ge=1_000, description="Messages the embedded Tansu broker holds before the mirror empties it."
    )


class Settings(BaseSettings):
    """All of Sentinel's configuration, one frozen section per component."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        frozen=True,
        extra="ignore",
    )

    redis: RedisSettings = RedisSettings()
    kafka: KafkaSettings = KafkaSettings()
    streams: StreamsSettings = StreamsSettings()
    features: FeatureSettings = FeatureSettings()
    gateway: GatewaySettings = GatewaySettings()
    models: ModelSettings = ModelSettings()
    strategy: StrategySettings = StrategySettings()
    jobs: JobsSettings = JobsSettings()
    notify: NotifySettings = NotifySettings()
    local: LocalSettings = LocalSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"{CONFIG_FILE_ENV}={config_file}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def replace(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed: ``s.replace(redis={"url": u})``."""
        data = self.model_dump()
        for name, changes in sections.items():
            data[name] = {**data[name], **changes}
        return Settings.model_validate(data)

    def describe(self) -> list[tuple[str, str, str, str]]:
        """(environment variable, value, default, description) rows; secrets masked."""
        rows = []
        for section_name, field in type(self).model_fields.items():
            section = getattr(self, section_name)
            default_section = field.default
            for name, info in type(section).model_fields.items():
                env = f"SENTINEL_{section_name}_{name}".upper()
                value = getattr(section, name)
                rows.append(
                    (env, _show(value), _show(getattr(default_section, name)), info.description or "")
                )
        return rows


def _show(value: object) -> str:
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "" if value is None else str(value)


LOCAL_STACK_FILE = "stack.json"


def process_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie has finished)."""
    try:
        with Path(f"/proc/{pid}/stat").open() as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def read_local_stack(state_dir: Path) -> dict[str, str] | None:
    """Addresses a running `sentinel up` of ``state_dir`` published (``redis_url``, ``kafka_bootstrap``,
    ``pid``), or None when none runs there (no file, or its process has ended).

    A file that is not what `sentinel up` writes is a ``ConfigError`` naming it: every command
    would otherwise guess, or fail further on with a less helpful message.
    """
    path = state_dir / LOCAL_STACK_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror}): delete it") from exc
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not (
        isinstance(info, dict)
        and isinstance(info.get("pid"), int)
        and isinstance(info.get("redis_url"), str)
        and info["redis_url"].startswith(REDIS_SCHEMES)
        and isinstance(info.get("kafka_bootstrap"), str)
    ):
        raise ConfigError(
            f"{path} is corrupt (not the pid and addresses `sentinel up` writes): "
            "delete it, then start the stack again with `sentinel up`"
        )
    if not process_alive(info["pid"]):
        return None
    return {str(k): str(v) for k, v in info.items()}


def with_local_stack(settings: Settings) -> Settings:
    """``settings`` with the Redis URL and broker a running local stack uses filled in where unset.

    So `sentinel fn list --stats`, `sentinel dlq ...` in a second shell find the stack that
    `sentinel up` started in the same state directory; explicit settings always win.
    """
    if settings.redis.url and settings.kafka.bootstrap:
        return settings
    stack = read_local_stack(settings.local.state_dir)
    if stack is None:
        return settings
    return settings.replace(
        redis={"url": settings.redis.url or stack.get("redis_url")},
        kafka={"bootstrap": settings.kafka.bootstrap or stack.get("kafka_bootstrap")},
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once (call it from a composition root only).

    Where SENTINEL_REDIS_URL / SENTINEL_KAFKA_BOOTSTRAP are unset and a local stack runs in the
    state directory, its addresses are used (``with_local_stack``).
    """
    return with_local_stack(Settings())
