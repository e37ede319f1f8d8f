"""Gateway edge: request bodies. A body whose bytes cannot be decoded is the client's fault (400).

Litestar turns ``msgspec.DecodeError`` into a 400 itself, but JSON nested deeper than the
decoder's recursion limit raises ``RecursionError`` and invalid UTF-8 inside a string raises
``UnicodeDecodeError``; both would surface as 500. :class:`BodyRequest` (the app's request
class) maps every failure of the bytes to a ``SerializationException``, which Litestar answers
with a 400 problem document (``gateway.problems``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException


class BodyRequest(Request[Any, Any, Any]):
    """A request whose JSON body fails to decode with a 400, whatever the decoder raises."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as exc:
            raise SerializationException("JSON nested too deeply") from exc
        except UnicodeDecodeError as exc:
            raise SerializationException(f"invalid UTF-8 in a string: {exc.reason}") from exc
