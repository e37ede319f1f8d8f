"""Alert verdicts, the label's way to its shard: committed with the verdict, appended to the shard once.

On one Redis a verdict's label is appended to the ``labels`` stream in the verdict's own MULTI
(``gateway.services.alerts``). With stream shards (a Redis Cluster) the label belongs in the
``labels`` stream of the shard that scored the transaction (the label stage joins it with the
result record there, in that shard's slot), while the verdict, the audit entry and the queue
index share the operators' hash tag (``{ops}``): one MULTI cannot write both. So the verdict's
MULTI also writes the label here (``stage``: ``OperatorKeys.label_outbox``, in ``{ops}``), and
``deliver`` then appends it to its shard with one script in that shard's slot that also sets a
marker (``OperatorKeys.label_sent``): a label is appended at most once, however often it is
delivered. The outbox entry is dropped after the append; a gateway that dies between the two
leaves it there, and the next resolve or queue page (``flush``) delivers it. So a committed
verdict's label reaches its shard exactly once, possibly a moment late, never lost.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from functions.keys import OperatorKeys
from streams.keys import Shards

log = logging.getLogger(__name__)

# KEYS: the marker, the shard's labels stream. ARGV: marker ttl, then the entry's field/value pairs.
_APPEND_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
  return 1
end
return 0
"""


class LabelOutbox:
    """Verdict labels on their way to their transaction's shard (see the module doc)."""

    def __init__(
        self, client: redis.Redis, operators: OperatorKeys, shards: Shards, labels_stream: str, ttl_s: int
    ) -> None:
        self._redis = client
        self._key = operators.label_outbox
        self.staged = shards.tagged  # else one Redis: the verdict's MULTI appends the label itself
        self._shards = list(shards)
        self._labels = labels_stream
        self._ttl_s = ttl_s
        self._append = client.register_script(_APPEND_ONCE)

    def stage(self, pipe: Any, tx_id: int, shard: int, fields: dict[str, Any]) -> None:
        """Queue (on ``pipe``, the verdict's MULTI) the label's entry for shard ``shard``."""
        entry = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in fields.items()}
        pipe.hset(self._key, str(tx_id), json.dumps({"shard": shard, "fields": entry}))

    def deliver(self, tx_id: int) -> bool:
        """Append the staged label of ``tx_id`` to its shard (once) and drop it from the outbox;
        False when nothing was staged."""
        raw: Any = self._redis.hget(self._key, str(tx_id))
        if raw is None:
            return False
        staged = json.loads(raw)
        keys = self._shards[int(staged["shard"])]
        marker = OperatorKeys(keys.prefix).label_sent(tx_id)
        pairs = [item for pair in staged["fields"].items() for item in pair]
        appended = self._append(keys=[marker, keys.stream(self._labels)], args=[self._ttl_s, *pairs])
        if not appended:
            log.info("label of transaction %s was appended before: not again", tx_id)
        self._redis.hdel(self._key, str(tx_id))
        return True

    def flush(self) -> int:
        """Deliver every staged label (those a gateway left behind); how many."""
        if not self.staged:
            return 0  # nothing is staged on one Redis: no round trip
        staged: Any = self._redis.hkeys(self._key)
        for tx_id in staged:
            self.deliver(int(tx_id))
        return len(staged)
