"""Enrich stage, state: the stateful features of a batch, computed and stored in Redis in ONE call.

``RedisFeatureState`` implements the ``FeatureState`` port with a server-side Lua script that
runs once per chunk of ``SCRIPT_CHUNK`` transactions (5 round trips for a batch of 500, whatever
the entities), so every read-modify-write is atomic and needs no client-side locking, and no
single run blocks Redis for long. Its Redis client is injected.

Per transaction the script first looks for the features already computed for that
TransactionID (``feat:vec:<id>``): if present they are returned and no state changes, so
re-processing after a crash or a redelivery is idempotent and returns the same vector.

Per entity the state is one string of packed float64 (all-history n, sum, sum of squares,
newest TransactionDT, and per window its bucket slots: bucket id, count, sum, sum of squares)
read and written once per script run (a popular e-mail domain or device recurs many times in a
run: it is unpacked once, updated per transaction, packed and written back at the end), plus a
zset of companions (card, address ...) scored by their newest TransactionDT, trimmed to 24 h
when a new companion joins: O(1) memory per entity, expiring when idle.

Cost (``sentinel bench stage --callgrind``: instructions redis-server runs per event): inside
a script every string is interned with a hash over all its bytes, every ``redis.call`` costs
thousands of instructions around the command itself, and a number given to ``redis.call`` or
``..`` is printed with snprintf: so the script touches each state string once per run, passes
numbers that arrive as text as text, and runs no command whose answer it already knows.

Order. Depend only on the SET of the entity's events stored so far, not on their arrival
order: the window aggregates (sums over the event-time buckets of the window; an event lands in
its own bucket, however late it arrives, unless its slot already holds a newer bucket: then it
is more than a window late and stays out; a bucket holds what has arrived, so it may include a
later transaction of the same bucket that arrived first), the distinct companions over 24 h
(newest use per companion, later than dt - 24h). Arrival-order
dependent: the all-history aggregates (running counters, as of arrival),
``secs_since_prev`` (against the newest TransactionDT seen), ``uid_new_*`` and, as in any
stream without a watermark, which events of OTHER partitions have arrived yet: the topic is
keyed by card1, so card and uid state sees its own history in publish order, while e-mail,
device and address state mixes partitions in the order the mirror interleaves them.

Redis Cluster (``FeatureKeys.spread``, see ``RedisFeatureState``): card and uid state (and the
first-seen hashes) live on the card's stream shard, read by that shard's one consumer in publish
order, so ``card_*``, ``uid_*`` and ``uid_new_*`` are exactly what one Redis gives (and the
training replay). E-mail, device and address state are shared by every
shard's consumers, on slots chosen by the value: like partitions on one Redis, they see the other
shards' events in the order the consumers reach them (``email_*``, ``device_*`` and ``addr_*``
are order-dependent; their event-time window sums are not, once the window's events have
all arrived). A chunk's slot calls are separate scripts, each atomic: another consumer may update
an e-mail's state between the home call and the e-mail slot's call, one more interleaving of the
same kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from data.schema import Transaction
from functions.features import (
    DAY,
    DISTINCT_WINDOW_S,
    ENTITIES,
    PER_ENTITY,
    STATE_FEATURES,
    WINDOWS,
)
from functions.keys import FeatureKeys

# KEYS: per transaction: vector, (entity state, companions) x E, seen.
# ARGV: n, E, vector ttl, state ttl, values per entity, distinct window, bucket seconds x 3,
# slots x 3, the placeholder key, then per transaction: dt, amount, companion x E, device, email.
# An entity whose keys are the placeholder and an empty device / e-mail are not computed here
# (NaN): absent, or computed by another slot's run.
_SCRIPT = """
local n, E = tonumber(ARGV[1]), tonumber(ARGV[2])
local vec_ttl, state_ttl = ARGV[3], ARGV[4]  -- command arguments only: kept as text, as is dt's
local PER, DISTINCT = tonumber(ARGV[5]), tonumber(ARGV[6])
local G = {tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])}
local K = {tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])}
local NONE = ARGV[13]
local HEAD = 13
local NAN = 0/0
local KS, AS = 2 * E + 2, 2 + E + 2
local sqrt, floor = math.sqrt, math.floor

-- Numbers given to redis.call are printed with snprintf (%.17g) and '..' prints with sprintf:
-- arguments that arrive as text are passed as text.

-- entity state: one string of packed doubles: all-history n s q mx, then per window g and
-- slot i: bucket id, count, amount sum, sum of squares (one GET and one SET per entity and run)
local SLOTS = K[1] + K[2] + K[3]
local STATE = '<' .. string.rep('d', 4 + 4 * SLOTS)
local NO_BUCKET = -1e15
local EMPTY
do
  local h = {0, 0, 0, 0}
  for j = 1, SLOTS do h[#h + 1] = NO_BUCKET; h[#h + 1] = 0; h[#h + 1] = 0; h[#h + 1] = 0 end
  EMPTY = struct.pack(STATE, unpack(h))
end

local function stats(c, s, q)
  local mean = s / c
  local var = q / c - mean * mean
  if var < 0 then var = 0 end
  return mean, sqrt(var)
end

-- states read in this run, unpacked, written back once at its end (an e-mail domain or a device
-- recurs many times in a run: one GET, unpack, pack and SET for all of them); the companion
-- sets and first-seen hashes it touched get their TTL once, at its end too
local states, touched = {}, {}

-- dts: dt as text; since: '(' .. (dt - DISTINCT), the exclusive start of the distinct window
local function entity(hk, ck, dt, dts, since, amt, comp, v, nv)
  if hk == NONE then
    for j = 1, PER do v[nv + j] = NAN end
    return nv + PER
  end
  local h = states[hk]
  if not h then
    h = {struct.unpack(STATE, redis.call('GET', hk) or EMPTY)}
    states[hk] = h
  end
  local a2 = amt * amt
  local prev = NAN
  if h[1] > 0 and h[4] <= dt then prev = dt - h[4] end
  if h[1] == 0 or h[4] < dt then h[4] = dt end
  h[1], h[2], h[3] = h[1] + 1, h[2] + amt, h[3] + a2
  local base = 4
  for g = 1, 3 do
    local b, k = floor(dt / G[g]), K[g]
    local c, s, q = 1, amt, a2
    for i = 0, k - 1 do
      local j = base + 4 * i
      local bid = h[j + 1]
      if bid > b - k and bid <= b then c, s, q = c + h[j + 2], s + h[j + 3], q + h[j + 4] end
    end
    local j = base + 4 * (b % k)
    if h[j + 1] == b then
      h[j + 2], h[j + 3], h[j + 4] = h[j + 2] + 1, h[j + 3] + amt, h[j + 4] + a2
    elseif h[j + 1] < b then
      h[j + 1], h[j + 2], h[j + 3], h[j + 4] = b, 1, amt, a2
    end -- else the slot already holds a newer bucket: a very late event stays out of stored windows
    v[nv + g], v[nv + 3 + g] = c, s
    v[nv + 6 + g], v[nv + 9 + g] = stats(c, s, q)
    base = base + 4 * k
  end
  -- the set grows only by a new member: trimmed then (the count has its own lower bound)
  local added = comp ~= '' and redis.call('ZADD', ck, 'GT', dts, comp) == 1
  local nd = redis.call('ZCOUNT', ck, since, '+inf')
  if added then redis.call('ZREMRANGEBYSCORE', ck, '-inf', '(' .. (h[4] - DISTINCT)) end
  touched[ck] = true
  local hn, hs = h[1], h[2]
  local hmean, hstd = stats(hn, hs, h[3])
  v[nv + 13], v[nv + 14], v[nv + 15], v[nv + 16] = hn, hs, hmean, hstd
  v[nv + 17] = prev
  v[nv + 18] = (hmean > 0) and amt / hmean or NAN
  v[nv + 19] = (hstd > 0) and (amt - hmean) / hstd or 0
  v[nv + 20] = nd
  return nv + 20
end

local function first_seen(key, field, dt, dts)
  local old = tonumber(redis.call('HGET', key, field))
  if old == nil or dt < old then redis.call('HSET', key, field, dts) end
  if old == nil or old >= dt then return 1 end
  return 0
end

local out = {}
local packer = '<' .. string.rep('d', E * PER + 2)
for i = 1, n do
  local k, a = (i - 1) * KS, HEAD + (i - 1) * AS
  local blob = redis.call('GET', KEYS[k + 1])
  if not blob then
    local dts, amt = ARGV[a + 1], tonumber(ARGV[a + 2])
    local dt = tonumber(dts)
    local since = '(' .. (dt - DISTINCT)
    local v, nv = {}, 0
    for e = 1, E do
      nv = entity(KEYS[k + 2 * e], KEYS[k + 2 * e + 1], dt, dts, since, amt, ARGV[a + 2 + e], v, nv)
    end
    local seen, device, email = KEYS[k + KS], ARGV[a + 3 + E], ARGV[a + 4 + E]
    v[nv + 1] = (device == '') and NAN or first_seen(seen, 'd:' .. device, dt, dts)
    v[nv + 2] = (email == '') and NAN or first_seen(seen, 'e:' .. email, dt, dts)
    nv = nv + 2
    if device ~= '' or email ~= '' then touched[seen] = true end
    blob = struct.pack(packer, unpack(v, 1, nv))
    redis.call('SET', KEYS[k + 1], blob, 'EX', vec_ttl)
  end
  out[i] = blob
end
for key in pairs(touched) do redis.call('EXPIRE', key, state_ttl) end
for hk, h in pairs(states) do redis.call('SET', hk, struct.pack(STATE, unpack(h, 1, 4 + 4 * SLOTS)), 'EX', state_ttl) end
return out
"""


class FeatureState(Protocol):
    """Port: the stateful features of a batch, applying the batch to the state (idempotently)."""

    def apply(self, batch: Sequence[Transaction]) -> np.ndarray:
        """float64 array [len(batch), len(STATE_FEATURES)], rows in batch order."""
        ...


class ScriptClient(Protocol):
    """The part of a redis-py client the state needs (a real ``redis.Redis`` is injected)."""

    def register_script(self, script: str) -> Any: ...


@dataclass(frozen=True)
class FeatureTtl:
    """How long state lives without activity, and how long a computed vector is kept for replays."""

    state_s: int = 200 * DAY
    vector_s: int = 900  # > the longest an event stays pending (claim_idle_ms x max_deliveries)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def client_uid(tx: Transaction) -> str:
    """The client identity: card1 | addr1 | account start day (TransactionDT//86400 - D1).

    A missing part is empty (``"6838||31.0"``), never the text ``None``.
    """
    addr = "" if tx.addr1 is None else repr(tx.addr1)
    start = "" if tx.D1 is None else tx.TransactionDT // DAY - tx.D1
    return f"{tx.card1}|{addr}|{start}"


def entity_values(tx: Transaction) -> tuple[list[str | None], list[str]]:
    """(entity value or None per ENTITIES, companion value per ENTITIES) of one transaction."""
    card = str(tx.card1)
    addr = None if tx.addr1 is None else repr(tx.addr1)
    uid = client_uid(tx)
    fingerprint = f"{card}|{tx.card2}|{tx.card3}|{tx.card4}|{tx.card5}|{tx.card6}"
    values = [card, uid, tx.P_emaildomain, tx.DeviceInfo, addr]
    companions = [addr or "", fingerprint, card, card, card]
    return values, companions


SCRIPT_CHUNK = 100
"""Transactions per script run: bounds how long one run blocks Redis (~10 ms on a busy core)."""


class RedisFeatureState:
    """``FeatureState`` in Redis: one script call per chunk and slot; the client comes from the runtime.

    One Redis (``keys.spread`` empty): one call per chunk, every key under ``keys.prefix``. A Redis
    Cluster: a script may only touch keys of one hash slot, so each chunk runs one call per slot
    it touches: the home slot (``keys.prefix``, the stream shard's: card and uid state, first-seen
    hashes) with every transaction, then each slot of ``keys.spread`` that holds some of its e-mail,
    device or address state (``FeatureKeys.shared``) with the transactions that touch
    it. Every call keeps, per transaction, the vector it computed under its own slot
    (``feat:vec:<id>``: the home slot's and each shared slot's), so each call is idempotent by
    TransactionID on its own: a retry after a crash between two calls returns what the done calls
    stored and applies only the others (nothing counted twice, nothing lost). Each call leaves NaN
    where another computes (the script's absent entity), so the parts merge by taking the one
    number of each cell.
    """

    def __init__(self, client: ScriptClient, keys: FeatureKeys, ttl: FeatureTtl = FeatureTtl()) -> None:
        self._script = client.register_script(_SCRIPT)
        self._keys = keys
        self._ttl = ttl
        self._header = [
            len(ENTITIES),
            ttl.vector_s,
            ttl.state_s,
            PER_ENTITY,
            DISTINCT_WINDOW_S,
            *(w.bucket_s for w in WINDOWS),
            *(w.slots for w in WINDOWS),
        ]

    def apply(self, batch: Sequence[Transaction]) -> np.ndarray:
        if not batch:
            return np.empty((0, len(STATE_FEATURES)))
        # The script runs per chunk so Redis never blocks its other clients long (a script is
        # atomic); chunks run in order, exactly as one call would (ceil(n / SCRIPT_CHUNK) calls).
        if self._keys.spread:
            chunks = [
                self._apply_spread(batch[i : i + SCRIPT_CHUNK]) for i in range(0, len(batch), SCRIPT_CHUNK)
            ]
            return np.concatenate(chunks)
        blobs: list[bytes] = []
        for start in range(0, len(batch), SCRIPT_CHUNK):
            keys, args = self._arguments(batch[start : start + SCRIPT_CHUNK])
            blobs += self._script(keys=keys, args=args)
        return _matrix(blobs, len(batch))

    def _arguments(self, batch: Sequence[Transaction]) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of one script run on one Redis (layout: see the script's header)."""
        keys = self._keys
        names = [e.name for e in ENTITIES]
        kargs: list[str] = []
        args: list[Any] = [len(batch), *self._header, ""]
        for tx in batch:
            values, companions = entity_values(tx)
            kargs.append(keys.vector(tx.TransactionID))
            for name, value in zip(names, values, strict=True):
                if value is None:
                    kargs += ("", "")
                else:
                    kargs += (keys.entity(name, value), keys.companions(name, value))
            kargs.append(keys.seen(values[1] or ""))
            args += (tx.TransactionDT, repr(float(tx.TransactionAmt)), *companions)
            args += (_text(tx.DeviceInfo), _text(tx.P_emaildomain))
        return kargs, args

    def _apply_spread(self, batch: Sequence[Transaction]) -> np.ndarray:
        """One chunk on a cluster: one call per slot it touches, the home slot first."""
        home = self._keys
        placed = [_Placed.of(tx, home) for tx in batch]
        slots = {home.prefix: list(range(len(batch)))}
        for i, p in enumerate(placed):
            for prefix in sorted(p.slots() - {home.prefix}):
                slots.setdefault(prefix, []).append(i)
        out = np.empty((len(batch), len(STATE_FEATURES)))
        for prefix, rows in slots.items():
            keys, args = self._slot_arguments(
                FeatureKeys(prefix), [placed[i] for i in rows], prefix == home.prefix
            )
            part = _matrix(self._script(keys=keys, args=args), len(rows))
            # each cell is computed by exactly one call, NaN in the others (or NaN in all: absent)
            out[rows] = part if prefix == home.prefix else np.fmax(out[rows], part)
        return out

    def _slot_arguments(
        self, keys: FeatureKeys, batch: Sequence[_Placed], home: bool
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the script run on the slot of ``keys``: only what lives there."""
        none, here = keys.placeholder, keys.prefix
        kargs: list[str] = []
        args: list[Any] = [len(batch), *self._header, none]
        for p in batch:
            tx = p.tx
            kargs.append(keys.vector(tx.TransactionID))
            for entity, value, prefix in zip(ENTITIES, p.values, p.entity_slots, strict=True):
                if prefix == here and value is not None:
                    kargs += (keys.entity(entity.name, value), keys.companions(entity.name, value))
                else:
                    kargs += (none, none)
            kargs.append(keys.seen(p.values[1] or "") if home else none)
            args += (tx.TransactionDT, repr(float(tx.TransactionAmt)), *p.companions)
            args += (_text(tx.DeviceInfo), _text(tx.P_emaildomain)) if home else ("", "")
        return kargs, args


def _matrix(blobs: Sequence[bytes], rows: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f8").reshape(rows, len(STATE_FEATURES))


@dataclass(frozen=True)
class _Placed:
    """One transaction's entity values and the prefix (slot) each entity's state lives under."""

    tx: Transaction
    values: list[str | None]
    companions: list[str]
    entity_slots: list[str]

    @classmethod
    def of(cls, tx: Transaction, keys: FeatureKeys) -> _Placed:
        values, companions = entity_values(tx)
        entity_slots = [
            keys.prefix if entity.card_local or value is None else keys.shared(entity.name, value).prefix
            for entity, value in zip(ENTITIES, values, strict=True)
        ]
        return cls(tx, values, companions, entity_slots)

    def slots(self) -> set[str]:
        """The prefixes this transaction's state lives under (absent values live nowhere)."""
        return {p for p, v in zip(self.entity_slots, self.values, strict=True) if v is not None}
