"""Runtime stream housekeeping: idempotent consumer groups, backlog, and safe trimming.

Trimming never removes an entry some group still needs: for each group the safe point is
its oldest pending (delivered, unacknowledged) entry, or the entry after its last delivered
one when nothing is pending; the stream is trimmed (XTRIM MINID) below the smallest safe
point of all groups, in one script so no read or ack can slip in between. A stream without
groups is not trimmed (nobody has consumed it yet).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis

from streams.events import text

log = logging.getLogger(__name__)

_TRIM = """
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local best_ms, best_seq = nil, nil
local function consider(ms, seq)
  if best_ms == nil or ms < best_ms or (ms == best_ms and seq < best_seq) then
    best_ms, best_seq = ms, seq
  end
end
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local pending = redis.call('XPENDING', KEYS[1], info['name'])
  local id, bump = info['last-delivered-id'], 1
  if pending[1] > 0 then id, bump = pending[2], 0 end
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  consider(tonumber(ms), tonumber(seq) + bump)
end
return redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f-%.0f', best_ms, best_seq))
"""


def ensure_group(client: redis.Redis, stream_key: str, group: str) -> None:
    """Create ``group`` on ``stream_key`` (and the stream) reading from the start; no-op if it exists."""
    try:
        client.xgroup_create(stream_key, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def trim_consumed(client: redis.Redis, stream_key: str) -> int:
    """Delete the entries every group has acknowledged; returns how many were removed."""
    if not client.exists(stream_key):
        return 0
    removed: Any = client.eval(_TRIM, 1, stream_key)
    return int(removed)


def prune_consumers(client: redis.Redis, stream_key: str, group: str, idle_ms: int) -> int:
    """Forget consumers with nothing pending that were idle ``idle_ms`` (workers that exited).

    Harmless for a live consumer: its next read creates it again.
    """
    try:
        consumers: Any = client.xinfo_consumers(stream_key, group)
    except redis.ResponseError:
        return 0
    removed = 0
    for info in consumers:
        if int(info["pending"]) == 0 and int(info["idle"]) > idle_ms:
            client.xgroup_delconsumer(stream_key, group, info["name"])
            removed += 1
    return removed


# Each group's lag (entries not yet delivered to it) and pending count, checked against the stream.
# Redis derives XINFO's lag from two counters (entries added, entries read by the group); after a
# restart from an append-only file that was rewritten, the read counter can lag behind for good
# (Redis 7.0: a reported lag of thousands with an empty stream and nothing pending). So the lag
# is checked: no entry after the group's last-delivered id means 0, and when Redis reported
# more, its counter is repaired (XGROUP SETID to the same id, ENTRIESREAD = entries added: the
# same script, so no read can slip in between); a lag above the stream's length is capped to it.
# Returns {name, lag, pending, consumers, repaired, ...} per group.
_LAGS = """
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return {} end
local length = redis.call('XLEN', KEYS[1])
local added = nil
local out = {}
for _, g in ipairs(groups) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  local last = info['last-delivered-id']
  local lag, repaired = info['lag'], 0
  if #redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1) == 0 then
    if lag ~= 0 then
      if added == nil then
        local s = redis.call('XINFO', 'STREAM', KEYS[1])
        for i = 1, #s, 2 do if s[i] == 'entries-added' then added = s[i + 1] end end
      end
      redis.call('XGROUP', 'SETID', KEYS[1], info['name'], last, 'ENTRIESREAD', added)
      repaired = lag or -1
    end
    lag = 0
  elseif not lag or lag > length then
    lag = length
  end
  out[#out + 1] = {info['name'], lag, info['pending'], info['consumers'], repaired}
end
return out
"""


@dataclass(frozen=True)
class GroupState:
    """Where one group stands on its stream."""

    lag: int  # entries not yet delivered to the group (never more than the stream holds)
    pending: int  # delivered, not acknowledged
    consumers: int


def group_states(client: redis.Redis, stream_key: str) -> dict[str, GroupState]:
    """Every group of the stream (none when the stream does not exist), lags checked (see _LAGS)."""
    rows: Any = client.eval(_LAGS, 1, stream_key)
    states: dict[str, GroupState] = {}
    for name, lag, pending, consumers, repaired in rows:
        group = text(name)
        if repaired:
            log.warning(
                "phantom lag repaired stream=%s group=%s reported=%s actual=0 (Redis's read counter "
                "was behind, e.g. after a restart from a rewritten append-only file)",
                stream_key,
                group,
                "unknown" if int(repaired) < 0 else repaired,
            )
        states[group] = GroupState(int(lag), int(pending), int(consumers))
    return states


def group_state(client: redis.Redis, stream_key: str, group: str) -> GroupState | None:
    """The group's lag and pending count, or None when the stream or group does not exist."""
    return group_states(client, stream_key).get(group)


def backlog(client: redis.Redis, stream_key: str) -> int:
    """Entries of the stream not yet consumed by all its groups (its length if it has none)."""
    states = group_states(client, stream_key)
    if not states:
        length: Any = client.xlen(stream_key)
        return int(length)
    return max(state.lag + state.pending for state in states.values())
