"""Runtime stream housekeeping: idempotent consumer groups, backlog, and safe trimming.

Trimming never removes an entry some group still needs: for each group the safe point is
its oldest pending (delivered, unacknowledged) entry, or the entry after its last delivered
one when nothing is pending; the stream is trimmed (XTRIM MINID) below the smallest safe
point of all groups, in one script so no read or ack can slip in between. A stream without
groups is not trimmed (nobody has consumed it yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

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


@dataclass(frozen=True)
class GroupState:
    """Where one group stands on its stream."""

    lag: int  # entries not yet delivered to the group
    pending: int  # delivered, not acknowledged
    consumers: int


def group_state(client: redis.Redis, stream_key: str, group: str) -> GroupState | None:
    """The group's lag and pending count, or None when the stream or group does not exist."""
    try:
        groups: Any = client.xinfo_groups(stream_key)
    except redis.ResponseError:
        return None
    for info in groups:
        name = info["name"]
        if (name.decode() if isinstance(name, bytes) else name) != group:
            continue
        lag = info.get("lag")
        if lag is None:  # Redis cannot tell after deletions: count what follows last-delivered-id
            last = info["last-delivered-id"]
            after: Any = client.xrange(stream_key, min=f"({_text(last)}", count=1_000_000)
            lag = len(after)
        return GroupState(int(lag), int(info["pending"]), int(info["consumers"]))
    return None


def backlog(client: redis.Redis, stream_key: str) -> int:
    """Entries of the stream not yet consumed by all its groups (its length if it has none)."""
    try:
        groups: Any = client.xinfo_groups(stream_key)
    except redis.ResponseError:
        return 0
    length: Any = client.xlen(stream_key)
    if not groups:
        return int(length)
    worst = 0
    for info in groups:
        lag = info.get("lag")
        if lag is None:
            return int(length)
        worst = max(worst, int(lag) + int(info["pending"]))
    return worst


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
