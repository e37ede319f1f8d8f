"""Alert queue, index: the open alerts in sorted sets, so a page of the queue costs O(page), not O(alerts).

Per decision family (``review``, ``decline`` and ``all``) three zsets hold the open alerts' ids
scored by raise order (the stream entry id as one exact number), amount and probability
(``OperatorKeys.queue_order``); a hash maps each id to its stream entry. The index follows the
alerts stream from a cursor: each queue request first takes in the alerts raised since the
previous one (``sync``: O(new alerts), one script call per 2,000) and drops those the stream has
trimmed; resolving an alert removes it in the verdict's own MULTI (``remove``). Taking an alert
in checks for its verdict in the same script, so an alert resolved before it was indexed never
enters, whichever runs first. The score stage's hot path is untouched.

A page is one script call (``page``): with no filter, or a filter only on the sort's own
dimension (amount range sorted by amount, age range sorted by time), a range read with
LIMIT and a ZCOUNT; any other filter scans the sort's range inside Redis, checking the other
dimensions with ZSCORE (no data leaves Redis for the rows skipped).

With stream shards (a Redis Cluster) there is one index for all of them, under the operators'
hash tag (``OperatorKeys`` under ``Shards.common_prefix``, ``{ops}``) with the verdicts, the audit
and the verdict waits: so the take-in script (which checks each alert's verdict) and a verdict's
MULTI (which removes its alert) each stay in one slot, and a page sorted over every shard's
alerts is still one range read. The alerts streams are read by the client (XRANGE), never inside
a script, so they may live anywhere. Per shard the index keeps its own cursor, its open alerts by
raise order (an alert trimmed from its shard's stream leaves the index by that shard's bound
only) and its resolved alerts; an entry records ``<shard>/<entry id>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import redis

from functions.keys import OperatorKeys

ORDERS = ("raised", "amount", "probability")
DECISIONS = ("review", "decline")
FAMILIES = (*DECISIONS, "all")
_SEQ = 4096  # raise order = ms * 4096 + sequence: exact in a double until the year 2500
_CHUNK = 2_000
WAITS_KEPT = 500  # verdicts the median time to verdict is taken over


class Light(msgspec.Struct, kw_only=True):
    """The fields of an alert payload the index needs (the rest is skipped)."""

    TransactionID: int
    TransactionAmt: float
    probability: float
    decision: str


decode_light = msgspec.json.Decoder(Light).decode


def raise_order(entry_id: str) -> int:
    """An alerts stream entry id as one number that sorts like the id."""
    ms, _, seq = entry_id.partition("-")
    return int(ms) * _SEQ + min(int(seq or 0), _SEQ - 1)


def raised_at(order: float) -> float:
    """Seconds since the epoch of a raise order."""
    return order // _SEQ / 1000


def order_at(seconds: float) -> float:
    """The raise order of the first alert raised at ``seconds`` (for age ranges)."""
    return math.floor(seconds * 1000) * _SEQ


# KEYS: cursor, entries, resolved, the shard's open zset (one stream: the 'all' raised zset), the 9
# order zsets (family-major, ORDERS order), then one verdict key per alert. ARGV: last entry id, its
# (ms, seq), trim below this order, then per alert: id, entry, raise order, amount, probability,
# family index (1 review, 2 decline).
_SYNC = """
local cursor, entries, resolved, shard = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function zsets(family) return KEYS[5 + 3 * (family - 1)], KEYS[6 + 3 * (family - 1)], KEYS[7 + 3 * (family - 1)] end
local t_all = zsets(3)
local function drop(id)
  for f = 1, 3 do
    local t, a, p = zsets(f)
    redis.call('ZREM', t, id); redis.call('ZREM', a, id); redis.call('ZREM', p, id)
  end
  if shard ~= t_all then redis.call('ZREM', shard, id) end
  redis.call('HDEL', entries, id)
end
local n = (#ARGV - 4) / 6
for i = 0, n - 1 do
  local b = 5 + 6 * i
  local id, entry, order, amount, prob, fam = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], tonumber(ARGV[b + 5])
  if redis.call('EXISTS', KEYS[13 + 1 + i]) == 1 then
    drop(id)
    redis.call('ZADD', resolved, order, id)
  else
    for _, f in ipairs({fam, 3}) do
      local t, a, p = zsets(f)
      redis.call('ZADD', t, order, id); redis.call('ZADD', a, amount, id); redis.call('ZADD', p, prob, id)
    end
    if shard ~= t_all then redis.call('ZADD', shard, order, id) end
    redis.call('HSET', entries, id, entry)
  end
end
if ARGV[1] ~= '' then
  local old = redis.call('GET', cursor)
  local ms, seq = tonumber(ARGV[2]), tonumber(ARGV[3])
  local oms, oseq = -1, -1
  if old then oms, oseq = string.match(old, '^(%d+)-(%d+)$'); oms, oseq = tonumber(oms), tonumber(oseq) end
  if ms > oms or (ms == oms and seq > oseq) then redis.call('SET', cursor, ARGV[1]) end
end
local gone = redis.call('ZRANGEBYSCORE', shard, '-inf', '(' .. ARGV[4], 'LIMIT', 0, 5000)
for _, id in ipairs(gone) do drop(id) end
redis.call('ZREMRANGEBYSCORE', resolved, '-inf', '(' .. ARGV[4])
return #gone
"""

# KEYS: the sort's zset, then the family's raised and amount zsets. ARGV: reverse, lo, hi,
# offset, limit, then the other filters as (lo, hi) on raised and on amount ('' when none).
_PAGE = """
local key, raised, amounts = KEYS[1], KEYS[2], KEYS[3]
local reverse, lo, hi = ARGV[1] == '1', ARGV[2], ARGV[3]
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local r_lo, r_hi, a_lo, a_hi = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local function range(start, count)
  if reverse then return redis.call('ZREVRANGEBYSCORE', key, hi, lo, 'LIMIT', start, count) end
  return redis.call('ZRANGEBYSCORE', key, lo, hi, 'LIMIT', start, count)
end
if not r_lo and not a_lo then
  local out = range(offset, limit)
  table.insert(out, 1, redis.call('ZCOUNT', key, lo, hi))
  return out
end
local function inside(zset, id, low, high)
  if not low then return true end
  local s = tonumber(redis.call('ZSCORE', zset, id))
  return s ~= nil and s >= low and s <= high
end
local out, total, start = {0}, 0, 0
while true do
  local ids = range(start, 1000)
  for _, id in ipairs(ids) do
    if inside(raised, id, r_lo, r_hi) and inside(amounts, id, a_lo, a_hi) then
      if total >= offset and total < offset + limit then out[#out + 1] = id end
      total = total + 1
    end
  end
  if #ids < 1000 then break end
  start = start + 1000
end
out[1] = total
return out
"""


def _bound(value: float | None, default: str) -> str:
    return default if value is None else repr(float(value))


@dataclass(frozen=True)
class ShardIndex:
    """One alerts stream's part of the index: its cursor, its open alerts by raise order (for
    trimming) and its resolved alerts still in the stream."""

    stream: str
    cursor: str
    open: str
    resolved: str


class QueueIndex:
    """The open-alerts index of the alerts streams, one per stream shard (see the module doc)."""

    def __init__(self, client: redis.Redis, keys: OperatorKeys, streams: Sequence[str]) -> None:
        self._redis = client
        self._keys = keys
        if len(streams) == 1:  # the keys of the one-stream index, unchanged
            self.shards = [
                ShardIndex(
                    streams[0], keys.queue_cursor, keys.queue_order("raised", "all"), keys.queue_resolved
                )
            ]
        else:
            self.shards = [
                ShardIndex(
                    stream, keys.queue_shard_cursor(k), keys.queue_shard_open(k), keys.queue_shard_resolved(k)
                )
                for k, stream in enumerate(streams)
            ]
        self._sync = client.register_script(_SYNC)
        self._page = client.register_script(_PAGE)

    def _zsets(self) -> list[str]:
        return [self._keys.queue_order(order, family) for family in FAMILIES for order in ORDERS]

    def _entry(self, shard: int, entry_id: str) -> str:
        return entry_id if len(self.shards) == 1 else f"{shard}/{entry_id}"

    def sync(self) -> None:
        """Take in the alerts raised since the last call; drop those the streams no longer hold."""
        for shard in range(len(self.shards)):
            self._sync_shard(shard)

    def _sync_shard(self, shard: int) -> None:
        part = self.shards[shard]
        cursor: Any = self._redis.get(part.cursor)
        start = "(" + cursor.decode() if cursor else "-"
        while True:
            found: Any = self._redis.xrange(part.stream, min=start, count=_CHUNK)
            first: Any = self._redis.xrange(part.stream, count=1)
            trim_below = raise_order(first[0][0].decode()) if first else math.inf
            keys = [part.cursor, self._keys.queue_entries, part.resolved, part.open, *self._zsets()]
            last = found[-1][0].decode() if found else ""
            ms, _, seq = last.partition("-")
            args: list[Any] = [last, ms or 0, seq or 0, "+inf" if trim_below == math.inf else trim_below]
            for raw_id, fields in found:
                payload = fields.get(b"d")
                if payload is None:
                    continue
                entry_id = raw_id.decode()
                alert = decode_light(payload)
                family = DECISIONS.index(alert.decision) + 1 if alert.decision in DECISIONS else 3
                keys.append(self._keys.alert_verdict(alert.TransactionID))
                args += [
                    alert.TransactionID,
                    self._entry(shard, entry_id),
                    raise_order(entry_id),
                    repr(alert.TransactionAmt),
                    repr(alert.probability),
                    family,
                ]
            self._sync(keys=keys, args=args)
            if len(found) < _CHUNK:
                return
            start = "(" + last

    def remove(self, pipe: Any, tx_id: int, entry: tuple[int, str] | None, now_s: float) -> None:
        """Queue (on ``pipe``, the verdict's MULTI) the removal of a resolved alert from the index;
        ``entry``: its (shard, stream entry id) when indexed."""
        for key in self._zsets():
            pipe.zrem(key, tx_id)
        pipe.hdel(self._keys.queue_entries, tx_id)
        if entry is not None:
            part = self.shards[entry[0]]
            raised_order = raise_order(entry[1])
            if len(self.shards) > 1:
                pipe.zrem(part.open, tx_id)
            pipe.zadd(part.resolved, {str(tx_id): raised_order})
            wait = max(0.0, now_s - raised_at(raised_order))
            pipe.zadd(self._keys.verdict_waits, {f"{tx_id}:{wait:.1f}": int(now_s * 1000)})
            pipe.zremrangebyrank(self._keys.verdict_waits, 0, -(WAITS_KEPT + 1))

    def _parse(self, raw: bytes) -> tuple[int, str]:
        shard, _, entry_id = raw.decode().rpartition("/")
        return int(shard or 0), entry_id

    def entry_of(self, tx_id: int) -> tuple[int, str] | None:
        """(shard, stream entry id) of an indexed (open) alert."""
        found: Any = self._redis.hget(self._keys.queue_entries, str(tx_id))
        return self._parse(found) if found else None

    def page(
        self,
        family: str,
        order: str,
        reverse: bool,
        raised: tuple[float | None, float | None],
        amount: tuple[float | None, float | None],
        offset: int,
        limit: int,
    ) -> tuple[int, list[tuple[int, int, str]]]:
        """(matching open alerts, [(TransactionID, shard, entry id)] of the page) in the asked order.

        ``raised`` and ``amount``: inclusive (low, high) bounds, None for open ends.
        """
        ranges = {"raised": raised, "amount": amount}
        lo, hi = ranges.get(order, (None, None))
        others: list[str] = []
        for name in ("raised", "amount"):
            low, high = ranges[name]
            if name == order or (low is None and high is None):
                others += ["", ""]
            else:
                others += [_bound(low, "-inf"), _bound(high, "+inf")]
        reply: Any = self._page(
            keys=[
                self._keys.queue_order(order, family),
                self._keys.queue_order("raised", family),
                self._keys.queue_order("amount", family),
            ],
            args=[int(reverse), _bound(lo, "-inf"), _bound(hi, "+inf"), offset, limit, *others],
        )
        ids = [int(x) for x in reply[1:]]
        entries: Any = self._redis.hmget(self._keys.queue_entries, ids) if ids else []
        return int(reply[0]), [(i, *self._parse(e)) for i, e in zip(ids, entries, strict=True) if e]

    def kpis(self) -> tuple[int, int, float | None, list[float]]:
        """(open, resolved, raise order of the oldest open alert, the latest verdict waits in seconds)."""
        pipe = self._redis.pipeline(transaction=False)
        raised = self._keys.queue_order("raised", "all")
        pipe.zcard(raised)
        pipe.zrange(raised, 0, 0, withscores=True)
        pipe.zrange(self._keys.verdict_waits, 0, -1)
        for part in self.shards:
            pipe.zcard(part.resolved)
        n_open, oldest, waits, *n_resolved = pipe.execute()
        return (
            int(n_open),
            sum(int(n) for n in n_resolved),
            float(oldest[0][1]) if oldest else None,
            [float(w.decode().partition(":")[2]) for w in waits],
        )
