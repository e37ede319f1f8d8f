"""Runtime commit: a batch's outputs, side effects, dead letters, counters and XACK in ONE step.

One Lua script call per batch. Inside it, before writing anything, it checks that this
consumer still owns every input entry in the group's pending list (XPENDING over the batch's
id range, filtered by consumer). If
another consumer reclaimed any of them, the script writes nothing and returns the ids this
consumer still owns, so the worker re-runs the function on those only. Because Redis runs
a script atomically, a crash before the call leaves the inputs pending (retried later) and
a crash after it leaves nothing to redo: outputs are never written twice, never lost.

Operations are flattened into ARGV as ``op, key index, argc, args...``; every key a script
touches is passed in KEYS (Redis requires it; on a cluster all must share a slot).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from streams.events import PAYLOAD, Effect, Emit, HashIncr, HashSet, Publish, entry_fields
from streams.keys import Keys

_SCRIPT = """
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local n = tonumber(ARGV[3])
local owned, all, mine = {}, true, {}
if n > 0 then
  -- this consumer's pending entries between the first and last id (ids come sorted)
  local limit = 2 * n + 100
  local rows = redis.call('XPENDING', stream, group, ARGV[4], ARGV[3 + n], limit, consumer)
  for _, row in ipairs(rows) do mine[row[1]] = true end
  if #rows == limit then  -- too many of ours in the range to list: ask per entry
    mine = {}
    for i = 1, n do
      local p = redis.call('XPENDING', stream, group, ARGV[3 + i], ARGV[3 + i], 1, consumer)
      if p[1] then mine[ARGV[3 + i]] = true end
    end
  end
end
for i = 1, n do
  local id = ARGV[3 + i]
  if mine[id] then owned[#owned + 1] = id else all = false end
end
if not all then
  table.insert(owned, 1, 'partial')
  return owned
end
local i = 4 + n
while i <= #ARGV do
  local op, key, argc = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
  local first, last = i + 3, i + 2 + argc
  if op == 'X' then
    redis.call('XADD', key, '*', unpack(ARGV, first, last))
  elseif op == 'C' then  -- a capped history stream: the first argument is its length
    redis.call('XADD', key, 'MAXLEN', '~', ARGV[first], '*', unpack(ARGV, first + 1, last))
  elseif op == 'H' then
    redis.call('HSET', key, unpack(ARGV, first + 1, last))
    if tonumber(ARGV[first]) > 0 then redis.call('EXPIRE', key, ARGV[first]) end
  elseif op == 'I' then
    local field, amount, ttl = ARGV[first], ARGV[first + 1], tonumber(ARGV[first + 2])
    if string.find(amount, '[.eE]') then
      redis.call('HINCRBYFLOAT', key, field, amount)
    else
      redis.call('HINCRBY', key, field, amount)
    end
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  elseif op == 'P' then
    redis.call('PUBLISH', ARGV[first], ARGV[first + 1])
  end
  i = last + 1
end
if n > 0 then redis.call('XACK', stream, group, unpack(ARGV, 4, 3 + n)) end
return {'ok'}
"""


@dataclass(frozen=True)
class DeadLetter:
    """An input that will never be processed, and why."""

    entry_id: str
    reason: str
    payload: bytes
    meta: dict[str, str] = field(default_factory=dict)
    deliveries: int = 1


@dataclass
class CommitResult:
    """``ok``: everything written and acknowledged; else ``owned`` lists the ids still ours."""

    ok: bool
    owned: list[str]


class Committer:
    """Commits batches of one function (input stream + group + consumer) atomically."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        function: str,
        input_stream: str,
        group: str,
        consumer: str,
        capped: dict[str, int] | None = None,
    ) -> None:
        self._script = client.register_script(_SCRIPT)
        self._keys = keys
        self._capped = capped or {}  # stream key -> approximate maximum length
        self.function = function
        self.input_stream = input_stream
        self.group = group
        self.consumer = consumer

    def commit(
        self,
        entry_ids: Sequence[str],
        effects: Sequence[Effect],
        dead: Sequence[DeadLetter] = (),
        counters: dict[str, int] | None = None,
        stats_names: Sequence[str] = (),
    ) -> CommitResult:
        """Write ``effects``, dead letters and counters, and XACK ``entry_ids`` if all are still ours."""
        keys: list[str] = [self._keys.stream(self.input_stream)]
        index: dict[str, int] = {keys[0]: 1}

        def key_index(key: str) -> int:
            if key not in index:
                keys.append(key)
                index[key] = len(keys)
            return index[key]

        ordered = sorted(entry_ids, key=_id_order)
        args: list[Any] = [self.group, self.consumer, len(ordered), *ordered]

        def op(code: str, key: str, *op_args: Any) -> None:
            args.extend((code, key_index(key), len(op_args), *op_args))

        for effect in effects:
            if isinstance(effect, Emit):
                fields = _flatten(entry_fields(effect.payload, effect.meta))
                key = self._keys.stream(effect.stream)
                if key in self._capped:
                    op("C", key, self._capped[key], *fields)
                else:
                    op("X", key, *fields)
            elif isinstance(effect, HashSet):
                op("H", effect.key, effect.ttl_s, *_flatten(effect.mapping))
            elif isinstance(effect, HashIncr):
                op("I", effect.key, effect.field, _number(effect.amount), effect.ttl_s)
            elif isinstance(effect, Publish):
                op("P", keys[0], effect.channel, effect.message)
            else:
                raise TypeError(f"not an effect: {effect!r}")
        for letter in dead:
            op("X", self._keys.dead_letters, *_flatten(self.dead_letter_fields(letter)))
        for function in stats_names or (self.function,):
            for name, amount in (counters or {}).items():
                if amount:
                    op("I", self._keys.function_stats(function), name, amount, 0)
        reply = self._script(keys=keys, args=args)
        status = _text(reply[0])
        if status == "ok":
            return CommitResult(True, ordered)
        return CommitResult(False, [_text(x) for x in reply[1:]])

    def dead_letter_fields(self, letter: DeadLetter) -> dict[str, Any]:
        return {
            "function": self.function,
            "stream": self.input_stream,
            "group": self.group,
            "entry_id": letter.entry_id,
            "reason": letter.reason[:2000],
            "deliveries": letter.deliveries,
            "meta": _meta_text(letter.meta),
            PAYLOAD: letter.payload,
        }


def _meta_text(meta: dict[str, str]) -> str:
    return json.dumps(meta, separators=(",", ":"), sort_keys=True)


def _flatten(mapping: Any) -> list[Any]:
    out: list[Any] = []
    for name, value in mapping.items():
        out.extend((name, value))
    return out


def _number(amount: int | float) -> str:
    return repr(float(amount)) if isinstance(amount, float) else str(int(amount))


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
