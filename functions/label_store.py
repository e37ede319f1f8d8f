"""Label stage, state: ``LabelStore`` in Redis, one script call per batch (the client is injected).

Per label, unless it is already stored or already waiting (then it is read back, flagged
``duplicate``): if the score stage's result record exists, join it (the fields
``functions.result.JOINED`` names), write the label hash (expiring), add it to the sliding
window zset (trimmed to ``QUALITY_WINDOW``) and count it (labels, fraud, delays). If the
transaction is not scored yet, the label *waits* (``LabelKeys.waiting``, the oldest first in
``LabelKeys.waiting_age``) and nothing is counted.

``join_waiting`` (one script call, run by the label stage before each batch and by the score
stage before each of its batches) joins the oldest waiting labels whose result now exists,
exactly as above, and counts them ``late`` too. A label waits at most ``wait_s`` seconds and
behind at most ``waiting_max`` others: past either bound it is stored without a score and
counted ``unscored``. A join removes the label from the waiting set in the same script that
counts it, so a label is counted once whichever stage joins it, however often it is redelivered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from string import Template
from typing import Any, Protocol

from functions.events import LabelStored
from functions.keys import LabelKeys, ScoreKeys
from functions.label import QUALITY_WINDOW, LabelIn
from functions.result import JOINED
from functions.velocity import ScriptClient

# Shared by both scripts: KEYS[1..4] = stats, window, waiting, waiting_age;
# ARGV[1..4] = n, label ttl, window size, now (ms).
_JOIN = Template("""
local stats, window, waiting, ages = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local n, ttl, keep, now_ms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local FIELDS = {'isFraud', 'TransactionDT', 'amount', 'probability', 'decision', 'model_version', 'delay_s',
  'segment'}
local function result(rk) return redis.call('HMGET', rk, $joined) end
-- store label y of txid joined with result r (r[3] false: stored unscored), count it once
local function join(lk, r, txid, y, arrived)
  local delay = false
  if arrived and tonumber(r[6]) then delay = string.format('%.6f', (arrived - tonumber(r[6])) / 1e9) end
  local row = {tostring(y), r[1], r[2], r[3], r[4], r[5], delay, r[7]}
  local set = {}
  for j = 1, #FIELDS do
    if row[j] then set[#set + 1] = FIELDS[j]; set[#set + 1] = row[j] end
  end
  redis.call('HSET', lk, unpack(set))
  redis.call('EXPIRE', lk, ttl)
  local seq = redis.call('HINCRBY', stats, 'labels', 1)
  redis.call('ZADD', window, arrived and (arrived / 1e6) or seq, txid .. ':' .. y .. ':' .. (r[3] or ''))
  redis.call('HINCRBY', stats, 'fraud', y)
  if not r[3] then redis.call('HINCRBY', stats, 'unscored', 1) end
  if delay then
    redis.call('HINCRBY', stats, 'delay_n', 1)
    redis.call('HINCRBYFLOAT', stats, 'delay_sum_s', delay)
    local mx = tonumber(redis.call('HGET', stats, 'delay_max_s'))
    if mx == nil or tonumber(delay) > mx then redis.call('HSET', stats, 'delay_max_s', delay) end
  end
  return row
end
""").substitute(joined=", ".join(f"'{field}'" for field in JOINED))

# KEYS[5..]: label key, result key per label; ARGV[5..]: txid, isFraud, arrival ns ('' unknown).
_STORE = (
    _JOIN
    + """
local out = {}
for i = 1, n do
  local lk, rk = KEYS[3 + 2 * i], KEYS[4 + 2 * i]
  local txid, y, arrived = ARGV[2 + 3 * i], tonumber(ARGV[3 + 3 * i]), ARGV[4 + 3 * i]
  local row = redis.call('HMGET', lk, unpack(FIELDS))
  local held = redis.call('HGET', waiting, txid)
  if row[1] then
    out[#out + 1] = '1'
  elseif held then
    out[#out + 1] = '1'
    row = {string.match(held, '^[^:]*')}
  else
    local r = result(rk)
    if r[3] then
      row = join(lk, r, txid, y, tonumber(arrived))
    else  -- not scored yet: wait for the score, count nothing
      redis.call('HSET', waiting, txid, y .. ':' .. arrived)
      redis.call('ZADD', ages, 'NX', now_ms, txid)
      row = {tostring(y)}
    end
    out[#out + 1] = '0'
  end
  for j = 1, #FIELDS do out[#out + 1] = row[j] or '' end
end
redis.call('ZREMRANGEBYRANK', window, 0, -(keep + 1))
return out
"""
)

# ARGV[5..6]: the longest wait (ms), the most labels waiting; KEYS[5..]: label key, result key
# per candidate (the oldest waiting); ARGV[7..]: their TransactionIDs. Returns {joined, given up}.
_JOIN_WAITING = (
    _JOIN
    + """
local max_age, max_n = tonumber(ARGV[5]), tonumber(ARGV[6])
local left, joined, expired = redis.call('HLEN', waiting), 0, 0
for i = 1, n do
  local txid = ARGV[6 + i]
  local held = redis.call('HGET', waiting, txid)
  if held then
    local y, arrived = string.match(held, '^([^:]*):(.*)$')
    local r = result(KEYS[4 + 2 * i])
    local since = tonumber(redis.call('ZSCORE', ages, txid)) or now_ms
    local give_up = now_ms - since > max_age or left > max_n
    if r[3] or give_up then
      join(KEYS[3 + 2 * i], r, txid, tonumber(y), tonumber(arrived))
      redis.call('HDEL', waiting, txid)
      redis.call('ZREM', ages, txid)
      left = left - 1
      if r[3] then
        joined = joined + 1
        redis.call('HINCRBY', stats, 'late', 1)
      else
        expired = expired + 1
      end
    end
  else
    redis.call('ZREM', ages, txid)
  end
end
redis.call('ZREMRANGEBYRANK', window, 0, -(keep + 1))
return {joined, expired}
"""
)
_WIDTH = 9


class LabelClient(ScriptClient, Protocol):
    def zrevrange(self, name: str, start: int, end: int, withscores: bool = False) -> Any: ...

    def zrange(self, name: str, start: int, end: int) -> Any: ...

    def hlen(self, name: str) -> Any: ...


def _float(raw: bytes) -> float | None:
    return float(raw) if raw else None


def _text(raw: bytes) -> str | None:
    return raw.decode() if raw else None


class RedisLabelStore:
    """``LabelStore`` on Redis under ``keys``; labels kept ``ttl_s`` seconds.

    A label whose transaction is not scored yet waits at most ``wait_s`` seconds and behind at
    most ``waiting_max`` others; ``join_waiting`` looks at up to ``join_batch`` of the oldest.
    """

    def __init__(
        self,
        client: LabelClient,
        keys: LabelKeys,
        results: ScoreKeys,
        ttl_s: int = 90 * 86_400,
        wait_s: int = 86_400,
        waiting_max: int = 1_000_000,
        join_batch: int = 1_000,
    ) -> None:
        self._client = client
        self._store = client.register_script(_STORE)
        self._join = client.register_script(_JOIN_WAITING)
        self._keys = keys
        self._results = results
        self._ttl_s = ttl_s
        self._wait_ms = wait_s * 1000
        self._waiting_max = waiting_max
        self._join_batch = join_batch
        self.found_waiting = 0  # labels the last join_waiting found waiting (up to join_batch)

    def _head(self, n: int) -> tuple[list[str], list[Any]]:
        keys = [self._keys.stats, self._keys.window, self._keys.waiting, self._keys.waiting_age]
        return keys, [n, self._ttl_s, QUALITY_WINDOW, time.time_ns() // 1_000_000]

    def store(self, batch: Sequence[LabelIn]) -> list[LabelStored]:
        if not batch:
            return []
        keys, args = self._head(len(batch))
        for item in batch:
            tx_id = item.label.TransactionID
            keys += (self._keys.label(tx_id), self._results.result(tx_id))
            args += (tx_id, item.label.isFraud, "" if item.arrived_ns is None else item.arrived_ns)
        flat = self._store(keys=keys, args=args)
        out = []
        for i, item in enumerate(batch):
            dup, y, dt, amount, probability, decision, version, delay, _ = flat[i * _WIDTH : (i + 1) * _WIDTH]
            out.append(
                LabelStored(
                    TransactionID=item.label.TransactionID,
                    isFraud=int(y),
                    TransactionDT=int(float(dt)) if dt else None,
                    TransactionAmt=_float(amount),
                    probability=_float(probability),
                    decision=_text(decision),
                    model_version=_text(version),
                    delay_s=_float(delay),
                    duplicate=dup == b"1",
                )
            )
        return out

    def join_waiting(self) -> tuple[int, int]:
        """Join the oldest waiting labels whose score now exists: (joined, stored unscored past a bound)."""
        oldest: Any = self._client.zrange(self._keys.waiting_age, 0, self._join_batch - 1)
        self.found_waiting = len(oldest)
        if not oldest:
            return 0, 0
        keys, args = self._head(len(oldest))
        args += (self._wait_ms, self._waiting_max)
        for raw in oldest:
            tx_id = int(raw)
            keys += (self._keys.label(tx_id), self._results.result(tx_id))
            args.append(tx_id)
        joined, expired = self._join(keys=keys, args=args)
        return int(joined), int(expired)

    def waiting(self) -> int:
        """Labels waiting for their transaction's score."""
        return int(self._client.hlen(self._keys.waiting))

    def window(self) -> list[tuple[int, float]]:
        return [(y, p) for _, y, p in read_window(self._client, self._keys, QUALITY_WINDOW)]


class WindowClient(Protocol):
    def zrevrange(self, name: str, start: int, end: int, withscores: bool = False) -> Any: ...


def _scored(member: bytes) -> tuple[int, int, float] | None:
    tx_id, y, probability = member.split(b":")
    if probability and probability not in (b"nan", b"None"):
        return int(tx_id), int(y), float(probability)
    return None


def read_window(client: WindowClient, keys: LabelKeys, limit: int) -> list[tuple[int, int, float]]:
    """(TransactionID, isFraud, probability) of the latest ``limit`` labels, newest first, scored ones only."""
    return [row for member in client.zrevrange(keys.window, 0, limit - 1) if (row := _scored(member))]


def read_windows(
    client: WindowClient, stores: Sequence[LabelKeys], limit: int
) -> list[tuple[int, int, float, LabelKeys]]:
    """``read_window`` over the label stores of several stream shards (each shard's label stage keeps
    its own window): the latest ``limit`` labels of them all by arrival, newest first, scored ones
    only, each with the store that holds its label."""
    if len(stores) == 1:
        return [(*row, stores[0]) for row in read_window(client, stores[0], limit)]
    arrivals = [
        (score, member, keys)
        for keys in stores
        for member, score in client.zrevrange(keys.window, 0, limit - 1, withscores=True)
    ]
    arrivals.sort(key=lambda arrival: arrival[0], reverse=True)
    return [(*row, keys) for _, member, keys in arrivals[:limit] if (row := _scored(member))]
