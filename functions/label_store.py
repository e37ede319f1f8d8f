"""Label stage, state: ``LabelStore`` in Redis, one script call per batch (the client is injected).

Per label, unless its hash already exists (then it is read back, flagged ``duplicate``): join
the score stage's result record (the fields ``functions.result.JOINED`` names), write the label
hash (expiring), add it to the sliding window zset (trimmed to ``QUALITY_WINDOW``) and count it
(labels, fraud, unscored, delays).
"""

from __future__ import annotations

from collections.abc import Sequence
from string import Template
from typing import Any, Protocol

from functions.events import LabelStored
from functions.keys import LabelKeys, ScoreKeys
from functions.label import QUALITY_WINDOW, LabelIn
from functions.result import JOINED
from functions.velocity import ScriptClient

_SCRIPT = Template("""
local stats, window = KEYS[1], KEYS[2]
local n, ttl, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local FIELDS = {'isFraud', 'TransactionDT', 'amount', 'probability', 'decision', 'model_version', 'delay_s'}
local out = {}
for i = 1, n do
  local lk, rk = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local txid, y, arrived = ARGV[1 + 3 * i], tonumber(ARGV[2 + 3 * i]), tonumber(ARGV[3 + 3 * i])
  local row = redis.call('HMGET', lk, unpack(FIELDS))
  if row[1] then
    out[#out + 1] = '1'
  else
    local r = redis.call('HMGET', rk, $joined)
    local delay = false
    if arrived and tonumber(r[6]) then delay = string.format('%.6f', (arrived - tonumber(r[6])) / 1e9) end
    row = {tostring(y), r[1], r[2], r[3], r[4], r[5], delay}
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
    out[#out + 1] = '0'
  end
  for j = 1, #FIELDS do out[#out + 1] = row[j] or '' end
end
redis.call('ZREMRANGEBYRANK', window, 0, -(keep + 1))
return out
""").substitute(joined=", ".join(f"'{field}'" for field in JOINED))
_WIDTH = 8


class LabelClient(ScriptClient, Protocol):
    def zrevrange(self, name: str, start: int, end: int) -> Any: ...


def _float(raw: bytes) -> float | None:
    return float(raw) if raw else None


def _text(raw: bytes) -> str | None:
    return raw.decode() if raw else None


class RedisLabelStore:
    """``LabelStore`` on Redis under ``keys``; labels kept ``ttl_s`` seconds."""

    def __init__(
        self, client: LabelClient, keys: LabelKeys, results: ScoreKeys, ttl_s: int = 90 * 86_400
    ) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._keys = keys
        self._results = results
        self._ttl_s = ttl_s

    def store(self, batch: Sequence[LabelIn]) -> list[LabelStored]:
        if not batch:
            return []
        keys: list[str] = [self._keys.stats, self._keys.window]
        args: list[Any] = [len(batch), self._ttl_s, QUALITY_WINDOW]
        for item in batch:
            tx_id = item.label.TransactionID
            keys += (self._keys.label(tx_id), self._results.result(tx_id))
            args += (tx_id, item.label.isFraud, "" if item.arrived_ns is None else item.arrived_ns)
        flat = self._script(keys=keys, args=args)
        out = []
        for i, item in enumerate(batch):
            dup, y, dt, amount, probability, decision, version, delay = flat[i * _WIDTH : (i + 1) * _WIDTH]
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

    def window(self) -> list[tuple[int, float]]:
        members = self._client.zrevrange(self._keys.window, 0, QUALITY_WINDOW - 1)
        pairs = []
        for member in members:
            _, y, probability = member.split(b":")
            if probability and probability not in (b"nan", b"None"):
                pairs.append((int(y), float(probability)))
        return pairs
