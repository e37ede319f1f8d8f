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

from streams.events import PAYLOAD, Effect, Emit, HashIncr, HashSet, IndexAdd, Publish, entry_fields, text
from streams.keys import Keys

# Applies the flattened operations of ARGV from index ``i`` on (shared by both scripts below).
_APPLY = """
local function apply(i)
  local oldest = {}  -- history stream -> the oldest entry time (ms) it keeps, trimmed once at the end
  local expiring = {}  -- key -> the TTL already set by this run: the script's clock stands still, so
  local function expire(key, ttl)  -- a second EXPIRE of the same key and TTL would change nothing
    if tonumber(ttl) > 0 and expiring[key] ~= ttl then
      redis.call('EXPIRE', key, ttl)
      expiring[key] = ttl
    end
  end
  while i <= #ARGV do
    local op, key, argc = ARGV[i], KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2])
    local first, last = i + 3, i + 2 + argc
    if op == 'X' then
      redis.call('XADD', key, '*', unpack(ARGV, first, last))
    elseif op == 'C' then  -- a history stream: its length cap, then its age cap in ms (0: none)
      local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[first], '*', unpack(ARGV, first + 2, last))
      local age = tonumber(ARGV[first + 1])
      if age > 0 then oldest[key] = tonumber(string.match(id, '^%d+')) - age end  -- ids are the clock
    elseif op == 'H' then
      redis.call('HSET', key, unpack(ARGV, first + 1, last))
      expire(key, ARGV[first])
    elseif op == 'I' then
      local field, amount = ARGV[first], ARGV[first + 1]
      if string.find(amount, '[.eE]') then
        redis.call('HINCRBYFLOAT', key, field, amount)
      else
        redis.call('HINCRBY', key, field, amount)
      end
      expire(key, ARGV[first + 2])
    elseif op == 'Z' then  -- a bounded index: ZADD score member..., keep the highest ranks, EXPIRE
      redis.call('ZADD', key, unpack(ARGV, first + 2, last))
      redis.call('ZREMRANGEBYRANK', key, 0, ARGV[first])  -- the rank stop, -1 - keep, as text
      expire(key, ARGV[first + 1])
    elseif op == 'P' then
      redis.call('PUBLISH', ARGV[first], ARGV[first + 1])
    end
    i = last + 1
  end
  for key, ms in pairs(oldest) do redis.call('XTRIM', key, 'MINID', '~', ms) end
end
"""

_COMMIT_SCRIPT = (
    _APPLY
    + """
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
apply(4 + n)
if n > 0 then redis.call('XACK', stream, group, unpack(ARGV, 4, 3 + n)) end
return {'ok'}
"""
)

_GUARDED_SCRIPT = (
    _APPLY
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
apply(1)
return 1
"""
)


@dataclass(frozen=True)
class HistoryCap:
    """Bounds of a history stream (an output no group reads): about ``max_entries`` entries,
    none older than ``max_age_s`` (0: no age bound)."""

    max_entries: int
    max_age_s: int = 0


INDEX_CHUNK = 500
"""Members per ZADD of one index (Lua's ``unpack`` is bounded by its C stack)."""


class ScriptArgs:
    """KEYS and ARGV of one script call: leading arguments, then effects as ``op, key index, argc, args``.

    ``capped`` maps logical history streams to their bounds. A call's ``IndexAdd`` effects are
    gathered per index and written by ``finish`` as one ZADD of all their members, one trim and
    one EXPIRE per index (a batch of 500 synthetic events touches about 110 cards): a trim after
    the last ZADD keeps exactly what a trim after each would have kept, the ``keep`` highest (a
    member trimmed early had ``keep`` higher ones already). Call ``finish`` last.
    """

    def __init__(
        self, keys: Keys, first_key: str, args: Sequence[Any], capped: dict[str, HistoryCap]
    ) -> None:
        self._names = keys
        self._capped = capped
        self.keys: list[str] = [first_key]
        self.args: list[Any] = list(args)
        self._index: dict[str, int] = {first_key: 1}
        self._indexed: dict[tuple[str, int, int], list[Any]] = {}  # (key, keep, ttl) -> score, member...

    def _key_index(self, key: str) -> int:
        if key not in self._index:
            self.keys.append(key)
            self._index[key] = len(self.keys)
        return self._index[key]

    def op(self, code: str, key: str, *op_args: Any) -> None:
        self.args.extend((code, self._key_index(key), len(op_args), *op_args))

    def emit(self, stream_key: str, fields: dict[str, Any], cap: HistoryCap | None = None) -> None:
        if cap is None:
            self.op("X", stream_key, *_flatten(fields))
        else:
            self.op("C", stream_key, cap.max_entries, cap.max_age_s * 1000, *_flatten(fields))

    def effect(self, effect: Effect) -> None:
        if isinstance(effect, Emit):
            fields = entry_fields(effect.payload, effect.meta)
            self.emit(self._names.stream(effect.stream), fields, self._capped.get(effect.stream))
        elif isinstance(effect, HashSet):
            self.op("H", effect.key, effect.ttl_s, *_flatten(effect.mapping))
        elif isinstance(effect, HashIncr):
            self.op("I", effect.key, effect.field, _number(effect.amount), effect.ttl_s)
        elif isinstance(effect, IndexAdd):
            pairs = self._indexed.setdefault((effect.key, effect.keep, effect.ttl_s), [])
            pairs += (repr(float(effect.score)), effect.member)
        elif isinstance(effect, Publish):
            self.op("P", self.keys[0], effect.channel, effect.message)
        else:  # a new kind of effect must be handled here, never silently skipped
            raise TypeError(f"not an effect: {effect!r}")

    def finish(self) -> None:
        """Add the gathered index writes (once per index; chunks of ``INDEX_CHUNK`` members)."""
        for (key, keep, ttl_s), pairs in self._indexed.items():
            for start in range(0, len(pairs), 2 * INDEX_CHUNK):
                self.op("Z", key, str(-1 - keep), ttl_s, *pairs[start : start + 2 * INDEX_CHUNK])
        self._indexed = {}


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
        capped: dict[str, HistoryCap] | None = None,
    ) -> None:
        self._script = client.register_script(_COMMIT_SCRIPT)
        self._keys = keys
        self._capped = capped or {}  # logical history stream -> its bounds
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
        ordered = sorted(entry_ids, key=id_order)
        call = ScriptArgs(
            self._keys,
            self._keys.stream(self.input_stream),
            [self.group, self.consumer, len(ordered), *ordered],
            self._capped,
        )
        for effect in effects:
            call.effect(effect)
        for letter in dead:
            call.emit(self._keys.dead_letters, self.dead_letter_fields(letter))
        for function in stats_names or (self.function,):
            for name, amount in (counters or {}).items():
                if amount:
                    call.op("I", self._keys.function_stats(function), name, amount, 0)
        call.finish()
        reply = self._script(keys=call.keys, args=call.args)
        status = text(reply[0])
        if status == "ok":
            return CommitResult(True, ordered)
        return CommitResult(False, [text(x) for x in reply[1:]])

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


def id_order(entry_id: str) -> tuple[int, int]:
    """Sort key of a stream entry id (``ms-seq``)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class GuardedCommitter:
    """Applies effects atomically, once: nothing is written when ``guard_key`` already exists.

    For writers without an input entry to acknowledge (the gateway's synchronous scoring):
    the guard is the record the effects create, so a repeat writes nothing.
    """

    def __init__(self, client: redis.Redis, keys: Keys, capped: dict[str, HistoryCap] | None = None) -> None:
        self._script = client.register_script(_GUARDED_SCRIPT)
        self._keys = keys
        self._capped = capped or {}  # logical history stream -> its bounds

    def load(self) -> None:
        """Load the script into Redis's script cache now (a first commit then needs no load)."""
        self._script.registered_client.script_load(self._script.script)

    def commit(self, guard_key: str, effects: Sequence[Effect]) -> bool:
        """True when applied, False when the guard key existed (nothing written)."""
        call = ScriptArgs(self._keys, guard_key, [], self._capped)
        for effect in effects:
            call.effect(effect)
        call.finish()
        return bool(self._script(keys=call.keys, args=call.args))
