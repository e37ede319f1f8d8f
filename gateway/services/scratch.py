"""Dry-run scoring: the feature script runs on a throwaway copy of exactly the keys it declares.

Feature state is read and updated by one server-side script per batch (``functions.velocity``)
and has no read-only mode. For ``POST /v1/score?dry_run=true`` the gateway gives the pipeline's
factories a client whose registered scripts copy each declared key to a scratch name first
(``COPY``), run on the copies, and delete them, so the live state never changes while the
features are computed by the identical code on identical data. Every other call passes through.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import redis


class _ScratchScript:
    def __init__(self, client: redis.Redis, script: str, scratch: str) -> None:
        self._client = client
        self._script = client.register_script(script)
        self._scratch = scratch

    def __call__(self, keys: Sequence[str] = (), args: Sequence[Any] = (), client: Any = None) -> Any:
        run = f"{self._scratch}{uuid.uuid4().hex[:8]}:"
        mapped = [f"{run}{key}" if key else key for key in keys]
        copies = [(key, copy) for key, copy in zip(keys, mapped, strict=True) if key]
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, copy in copies:
                pipe.copy(key, copy, replace=True)
            pipe.execute()
            return self._script(keys=mapped, args=list(args))
        finally:
            if copies:
                self._client.unlink(*{copy for _, copy in copies})


class ScratchClient:
    """A ``redis.Redis`` stand-in whose scripts never write the keys they are given."""

    def __init__(self, client: redis.Redis, scratch_prefix: str) -> None:
        self._client = client
        self._scratch = scratch_prefix

    def register_script(self, script: str) -> _ScratchScript:
        return _ScratchScript(self._client, script, self._scratch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
