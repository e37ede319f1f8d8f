"""Readiness: can this gateway serve? Redis reachable, a model loaded, every consumer group keeping up."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import anyio.to_thread
import msgspec
import redis
from redis.exceptions import RedisError

from streams.groups import group_state
from streams.keys import KeySets, key_sets

log = logging.getLogger(__name__)


class Check(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    ok: bool
    detail: str


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    ready: bool
    checks: list[Check]


class HealthService:
    def __init__(
        self,
        client: redis.Redis,
        keys: KeySets,  # every stream shard's
        groups: Sequence[tuple[str, str]],  # (input stream, group) of every pipeline function
        max_lag: int,
        model_ready: Callable[[], str | None],  # None when a model is loaded, else why not
    ) -> None:
        self._redis = client
        self._keys = keys
        self._groups = list(groups)
        self._max_lag = max_lag
        self._model_ready = model_ready

    async def readiness(self) -> Readiness:
        checks = await anyio.to_thread.run_sync(self._checks)
        return Readiness(ready=all(c.ok for c in checks), checks=checks)

    def _checks(self) -> list[Check]:
        try:
            self._redis.ping()
        except (RedisError, OSError) as exc:
            log.warning("readiness: redis unreachable: %s", exc)
            return [Check(name="redis", ok=False, detail=f"unreachable: {type(exc).__name__}")]
        problem = self._model_ready()
        model = Check(name="model", ok=problem is None, detail=problem or "loaded and warmed up")
        return [
            Check(name="redis", ok=True, detail="reachable"),
            model,
            self._lag_check(),
        ]

    def _lag_check(self) -> Check:
        behind = []
        for stream, group in self._groups:
            for shard in key_sets(self._keys):
                state = group_state(self._redis, shard.stream(stream), group)
                if state is not None and state.lag > self._max_lag:
                    behind.append(f"{group} on {shard.stream(stream)}: {state.lag}")
        if behind:
            return Check(
                name="lag", ok=False, detail=f"over {self._max_lag} entries behind: " + ", ".join(behind)
            )
        return Check(name="lag", ok=True, detail=f"every consumer group within {self._max_lag} entries")
