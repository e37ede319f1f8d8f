"""Sync scoring: commit a function's effects from an HTTP request, at most once per transaction.

The stream runtime commits effects with the XACK of their input in one Lua step; a request
has no input entry, so the effects go through one script here instead: it writes nothing if
the transaction's result record already exists (someone recorded it first: the caller
answers with that record), else it applies every effect. Outputs, result hash and counters
appear together or not at all, in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from streams.events import Effect, Emit, HashIncr, HashSet, Publish, entry_fields
from streams.keys import Keys

_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local i = 1
while i <= #ARGV do
  local op, key, argc = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  local a = {}
  for j = 1, argc do a[j] = ARGV[i + 2 + j] end
  if op == 'X' then
    redis.call('XADD', key, '*', unpack(a))
  elseif op == 'C' then  -- a capped history stream: the first argument is its length
    redis.call('XADD', key, 'MAXLEN', '~', a[1], '*', unpack(a, 2))
  elseif op == 'H' then
    redis.call('HSET', key, unpack(a, 2))
    if tonumber(a[1]) > 0 then redis.call('EXPIRE', key, a[1]) end
  elseif op == 'I' then
    if string.find(a[2], '[.eE]') then
      redis.call('HINCRBYFLOAT', key, a[1], a[2])
    else
      redis.call('HINCRBY', key, a[1], a[2])
    end
    if tonumber(a[3]) > 0 then redis.call('EXPIRE', key, a[3]) end
  elseif op == 'P' then
    redis.call('PUBLISH', key, a[1])
  end
  i = i + 3 + argc
end
return 1
"""


def _number(amount: int | float) -> str:
    return repr(float(amount)) if isinstance(amount, float) else str(int(amount))


class OnceCommitter:
    """Applies effects atomically unless ``guard_key`` exists; one script call."""

    def __init__(self, client: redis.Redis, keys: Keys, capped: Mapping[str, int] | None = None) -> None:
        self._script = client.register_script(_SCRIPT)
        self._keys = keys
        self._capped = dict(capped or {})  # logical history stream -> about how many entries to keep

    def commit(self, guard_key: str, effects: Iterable[Effect]) -> bool:
        """True when applied, False when the guard key existed (nothing written)."""
        keys: list[str] = [guard_key]
        args: list[Any] = []

        def op(code: str, key: str, *values: Any) -> None:
            keys.append(key)
            args.extend((code, len(keys), len(values), *values))

        for effect in effects:
            if isinstance(effect, Emit):
                fields = [v for pair in entry_fields(effect.payload, effect.meta).items() for v in pair]
                stream = self._keys.stream(effect.stream)
                if effect.stream in self._capped:  # as the runtime does for history outputs
                    op("C", stream, self._capped[effect.stream], *fields)
                else:
                    op("X", stream, *fields)
            elif isinstance(effect, HashSet):
                op("H", effect.key, effect.ttl_s, *(v for pair in effect.mapping.items() for v in pair))
            elif isinstance(effect, HashIncr):
                op("I", effect.key, effect.field, _number(effect.amount), effect.ttl_s)
            elif isinstance(effect, Publish):
                op("P", effect.channel, effect.message)
            else:  # a new kind of effect must be handled here, never silently skipped
                raise TypeError(f"unsupported effect {type(effect).__name__}")
        return bool(self._script(keys=keys, args=args))
