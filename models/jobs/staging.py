"""A scored history, staged as the pipeline writes it, and a real RQ worker to run jobs on it.

For the lifecycle benchmark (``sentinel bench lifecycle``) and the job tests: they replay
transactions through the online features, then need what the score stage writes per row (its
``ScoredFeatures`` on ``tx.features`` and the result record a label joins) and the labels that
arrive (through the label stage's store), without running the streaming pipeline around them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import redis

from core.settings import Settings
from data.schema import Label
from functions.decision import RISK, Thresholds
from functions.events import TxScored
from functions.keys import LabelKeys, ScoreKeys
from functions.label import LabelIn
from functions.label_store import RedisLabelStore
from functions.replay import ReplayMeta
from functions.result import to_hash
from functions.score import model_matrix
from functions.served import FEATURES_STREAM, ScoredFeatures, encode_scored_features
from models.jobs.queue import JOB_CLASS, QUEUE_CLASS, SERIALIZER, jobs_url
from models.loaded import LoadedModel
from streams.events import PAYLOAD
from streams.keys import Shards

_CHUNK = 2_000
STAGED_THRESHOLDS = Thresholds(review=0.3, decline=0.8)  # what the staged result records say


def stage_scored(
    client: redis.Redis,
    settings: Settings,
    matrix: npt.NDArray[np.float32],
    meta: ReplayMeta,
    champion: LoadedModel,
    challenger: LoadedModel | None = None,
) -> npt.NDArray[np.float64]:
    """Write what the score stage writes per row of ``matrix``; the champion's probabilities."""
    probs = np.asarray(champion.predict_proba(model_matrix(matrix, champion.feature_names)))
    shadow = None
    if challenger is not None:
        shadow = challenger.predict_proba(model_matrix(matrix, challenger.feature_names))
    shards = list(Shards.of(settings))  # with stream shards, row i on shard TransactionID mod N
    pipe = client.pipeline(transaction=False)
    for i in range(len(meta)):
        keys = shards[int(meta.transaction_id[i]) % len(shards)]
        key, results = keys.stream(FEATURES_STREAM), ScoreKeys(keys.prefix)
        record = ScoredFeatures(
            TransactionID=int(meta.transaction_id[i]),
            TransactionDT=int(meta.transaction_dt[i]),
            TransactionAmt=float(meta.amount[i]),
            probability=float(probs[i]),
            model_version=champion.version,
            challenger_probability=None if shadow is None else float(shadow[i]),
            challenger_version=None if challenger is None else challenger.version,
            features=np.ascontiguousarray(matrix[i], dtype="<f4").tobytes(),
        )
        pipe.xadd(key, {PAYLOAD: encode_scored_features(record)})
        decision = STAGED_THRESHOLDS.decide(record.probability)
        scored = TxScored(
            TransactionID=record.TransactionID,
            TransactionDT=record.TransactionDT,
            TransactionAmt=record.TransactionAmt,
            card1=0,
            uid="",
            probability=record.probability,
            risk=RISK[decision],
            decision=decision,
            model_version=champion.version,
            review_threshold=STAGED_THRESHOLDS.review,
            decline_threshold=STAGED_THRESHOLDS.decline,
        )
        pipe.hset(results.result(record.TransactionID), mapping=to_hash(scored, None, 0))
        if i % _CHUNK == _CHUNK - 1:
            pipe.execute()
    pipe.execute()
    return probs


def stage_labels(client: redis.Redis, settings: Settings, meta: ReplayMeta) -> None:
    """The labels of ``meta``'s transactions arrive, through the label stage's store."""
    shards = list(Shards.of(settings))  # each label where ``stage_scored`` put its row
    for shard, keys in enumerate(shards):
        store = RedisLabelStore(client, LabelKeys(keys.prefix), ScoreKeys(keys.prefix))
        batch = [
            LabelIn(Label(TransactionID=int(i), isFraud=1 if y == 1 else 0), None)
            for i, y in zip(meta.transaction_id, meta.is_fraud, strict=True)
            if int(i) % len(shards) == shard
        ]
        for start in range(0, len(batch), 500):
            store.store(batch[start : start + 500])


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a worker process needs to see ``settings`` (the non-default values)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    defaults = Settings()
    for (variable, value, _, _), (_, default, _, _) in zip(
        settings.describe(), defaults.describe(), strict=True
    ):
        if value != default:
            env[variable] = value
    if settings.gateway.api_keys.get_secret_value():
        env["SENTINEL_GATEWAY_API_KEYS"] = settings.gateway.api_keys.get_secret_value()
    return env


def worker_argv(settings: Settings, *extra: str) -> list[str]:
    """``rq worker`` on the jobs queue with the JSON serializer, job and queue classes."""
    return [
        str(Path(sys.executable).with_name("rq")),
        "worker",
        "--url",
        jobs_url(settings),
        "--serializer",
        SERIALIZER,
        "--job-class",
        JOB_CLASS,
        "--queue-class",
        QUEUE_CLASS,
        *extra,
        settings.jobs.queue,
    ]


def burst_worker(settings: Settings, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A real RQ worker process in burst mode: runs what is queued, then exits."""
    return subprocess.run(
        worker_argv(settings, "--burst"),
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
