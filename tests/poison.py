"""Test data: the five malformed messages of issue 11 (each once stopped a consumer), and any JSON.

Each makes a JSON decoder raise a different exception type (in this order): ``DecodeError``
(truncated), ``ValidationError`` (number out of range), ``RecursionError``, ``DecodeError``
(malformed), ``UnicodeDecodeError``. Used by the runtime, stage, label and gateway tests.
"""

from __future__ import annotations

from hypothesis import strategies as st

_VALID_HEAD = (
    b'{"TransactionID": 9, "TransactionDT": 86400, "TransactionAmt": 1.5, "ProductCD": "W", "card1": 1000'
)

POISON: dict[str, bytes] = {
    "wrong type then truncated": b'{"TransactionID": "x", "TransactionDT": 86400, "Transa',
    "float overflow in a D column": _VALID_HEAD + b', "D1": 1e400}',
    "array nested 3000 deep": b"[" * 3000 + b"]" * 3000,
    "array then an invalid byte": b"[1, 2]\xff",
    "invalid UTF-8 in a string": _VALID_HEAD + b', "P_emaildomain": "a\xff\xfeb"}',
}

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value (for property tests of hostile input)."""
