"""Gateway edge: request bodies. A body whose bytes cannot be decoded is the client's fault (400).

Litestar turns ``msgspec.DecodeError`` into a 400 itself, but JSON nested deeper than the
decoder's recursion limit raises ``RecursionError`` and invalid UTF-8 inside a string raises
``UnicodeDecodeError``; both would surface as 500. :class:`BodyRequest` (the app's request
class) maps every failure of the bytes to a ``SerializationException``, which Litestar answers
with a 400 problem document (``gateway.problems``).

A ``Transaction`` body (``POST /v1/score``) that is valid is decoded strictly into the
``Transaction`` itself, which Litestar then takes as it is: a 434-column row is not decoded into
a dict and converted besides (≈ 5 % of the request's instructions).

Litestar converts a decoded body to the handler's type leniently (``"card1": "13926"`` would
become 13926). :class:`BodyRequest` first validates the bytes strictly against the handler's
``data`` type: numbers written as strings are refused, and so is an unknown field in a
transaction (``Transaction`` is checked as :data:`data.schema.StrictTransaction`). msgspec stops
at the first error; after a failed strict decode, :func:`field_errors` checks the already decoded
body field by field, so the problem document lists every bad field (unknown, missing, wrong type
or out of range), up to ``MAX_ERRORS``.
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


MAX_ERRORS = 50


def _message(err: msgspec.ValidationError, key: str) -> tuple[str, str]:
    """(field, message) of a msgspec error raised at ``key``, with any path inside it appended."""
    text = str(err)
    match = _AT.search(text)
    inner = match.group(1) if match else ""
    field = f"{key}{inner}" if key else inner.lstrip(".")
    return field, _AT.sub("", text)


def field_errors(annotation: Any, value: Any, key: str = "") -> list[tuple[str, str]]:
    """Every bad field of ``value`` (decoded JSON) against ``annotation``: (field, message).

    Structs are checked field by field (unknown fields when the struct forbids them, missing
    required ones, each value converted strictly on its own), lists item by item, a union by the
    member the value's JSON shape selects; any other type as a whole.
    """
    annotation = _strict(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return field_errors(args[0], value, key)
    if origin is Union or type(annotation).__name__ == "UnionType":
        shaped = [a for a in args if (get_origin(_unannotated(a)) is list) == isinstance(value, list)]
        if len(shaped) == 1:
            return field_errors(shaped[0], value, key)
    if origin is list and isinstance(value, list):
        found: list[tuple[str, str]] = []
        for i, item in enumerate(value):
            found += field_errors(args[0], item, f"{key}[{i}]")
            if len(found) >= MAX_ERRORS:
                break
        return found
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct) and isinstance(value, dict):
        return _struct_errors(annotation, value, key)
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as err:
        return [_message(err, key)]
    return []


def _unannotated(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _struct_errors(struct: type[msgspec.Struct], value: dict[str, Any], key: str) -> list[tuple[str, str]]:
    prefix = f"{key}." if key else ""
    fields = msgspec.structs.fields(struct)
    known = {f.encode_name for f in fields}
    found = []
    if struct.__struct_config__.forbid_unknown_fields:
        # named in the message, reported at the object's path as msgspec does (the problem mapper
        # joins the two: ``[2].extra``)
        found += [(key, f"Object contains unknown field `{name}`") for name in value if name not in known]
    for f in fields:
        if f.encode_name not in value:
            if f.required:
                found.append((key, f"Object missing required field `{f.encode_name}`"))
            continue
        try:
            msgspec.convert(value[f.encode_name], f.type, strict=True)
        except msgspec.ValidationError as err:
            found.append(_message(err, f"{prefix}{f.encode_name}"))
    return found


class BodyRequest(Request[Any, Any, Any]):
    """A request whose JSON body fails to decode with a 400, whatever the decoder raises."""

    async def json(self) -> Any:
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is not None and _strict(data.annotation) is StrictTransaction:
            body = await self.body()
            try:  # valid (the usual case): decoded twice strictly, never as a dict to be converted
                msgspec.json.decode(body, type=StrictTransaction, strict=True)
                return msgspec.json.decode(body, type=Transaction, strict=True)
            except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError, TypeError):
                pass  # invalid: the path below names every bad field
        try:
            value = await super().json()
        except RecursionError as exc:
            raise SerializationException("JSON nested too deeply") from exc
        except UnicodeDecodeError as exc:
            raise SerializationException(f"invalid UTF-8 in a string: {exc.reason}") from exc
        self._validate_strictly(await self.body(), value)
        return value

    def _validate_strictly(self, body: bytes, value: Any) -> None:
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is None or not body:
            return
        try:
            msgspec.json.decode(body, type=_strict(data.annotation), strict=True)
        except msgspec.ValidationError as err:
            found = field_errors(data.annotation, value)[:MAX_ERRORS] or [_message(err, "")]
            raise ValidationException(
                detail="validation failed",
                extra=[
                    {"message": message, "key": field or None, "source": "body"} for field, message in found
                ],
            ) from err
        except (msgspec.DecodeError, TypeError):
            return  # malformed bytes were already refused by the lenient decode; types msgspec lacks
