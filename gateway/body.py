"""Gateway edge: request bodies. A body whose bytes cannot be decoded is the client's fault (400).

Litestar turns ``msgspec.DecodeError`` into a 400 itself, but JSON nested deeper than the
decoder's recursion limit raises ``RecursionError`` and invalid UTF-8 inside a string raises
``UnicodeDecodeError``; both would surface as 500. :class:`BodyRequest` (the app's request
class) maps every failure of the bytes to a ``SerializationException``, which Litestar answers
with a 400 problem document (``gateway.problems``).

Litestar converts a decoded body to the handler's type leniently (``"card1": "13926"`` would
become 13926). :class:`BodyRequest` first validates the bytes strictly against the handler's
``data`` type: numbers written as strings are refused, and so is an unknown field in a
transaction (``Transaction`` is checked as :data:`data.schema.StrictTransaction`). msgspec stops
at the first error, so one error is reported per request.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException, ValidationException

from data.schema import StrictTransaction, Transaction

_AT = re.compile(r" - at `\$([^`]*)`")


@functools.cache
def _strict(annotation: Any) -> Any:
    """``annotation`` with every ``Transaction`` in it replaced by ``StrictTransaction``."""
    if annotation is Transaction:
        return StrictTransaction
    origin, args = get_origin(annotation), get_args(annotation)
    if not args:
        return annotation
    if origin is Annotated:
        return Annotated[(_strict(args[0]), *annotation.__metadata__)]
    if origin is list:
        return list[_strict(args[0])]  # type: ignore[misc]
    if origin is Union or type(annotation).__name__ == "UnionType":
        return Union[tuple(_strict(a) for a in args)]  # noqa: UP007 (built from a tuple)
    return annotation


class BodyRequest(Request[Any, Any, Any]):
    """A request whose JSON body fails to decode with a 400, whatever the decoder raises."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError as exc:
            raise SerializationException("JSON nested too deeply") from exc
        except UnicodeDecodeError as exc:
            raise SerializationException(f"invalid UTF-8 in a string: {exc.reason}") from exc
        self._validate_strictly(await self.body())
        return value

    def _validate_strictly(self, body: bytes) -> None:
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is None or not body:
            return
        try:
            msgspec.json.decode(body, type=_strict(data.annotation), strict=True)
        except msgspec.ValidationError as err:
            message = str(err)
            match = _AT.search(message)
            key = match.group(1).lstrip(".") or None if match else None
            raise ValidationException(
                detail="validation failed",
                extra=[{"message": _AT.sub("", message), "key": key, "source": "body"}],
            ) from err
        except (msgspec.DecodeError, TypeError):
            return  # malformed bytes were already refused by the lenient decode; types msgspec lacks
