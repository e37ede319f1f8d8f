"""Gateway edge: every error leaves as an RFC 9457 problem document, mapped here and only here.

Validation errors name the field (``errors[].field``); project errors map by kind; anything
unexpected becomes a bare 500 whose detail is a log reference, never a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi import ResponseSpec
from litestar.utils.scope.state import ScopeState

from core.errors import PoisonMessage, SentinelError, TransientError
from data.schema import InvalidRow

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://sentinel.dev/problems/"


class FieldError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One invalid input: where it is and what is wrong with it."""

    field: str | None = None
    message: str
    source: str | None = None  # body, query, path, header


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class NotFound(SentinelError):
    """The named resource does not exist (-> 404)."""


class Conflict(SentinelError):
    """The request contradicts the current state (-> 409)."""


class Unavailable(SentinelError):
    """A dependency the endpoint needs is not there yet (no model, no broker) (-> 503)."""


class Invalid(SentinelError):
    """A request value is well-formed but not acceptable (-> 422), naming the field."""

    def __init__(self, field: str, message: str, source: str = "body") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.source = source


def _respond(
    request: Request[Any, Any, Any], problem: Problem, headers: dict[str, str] | None = None
) -> Response[Problem]:
    return Response(
        problem,
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _problem(
    status: int,
    detail: str | None,
    request: Request[Any, Any, Any],
    slug: str | None = None,
    errors: list[FieldError] | None = None,
) -> Problem:
    phrase = HTTPStatus(status).phrase
    return Problem(
        type=f"{TYPE_BASE}{slug}" if slug else "about:blank",
        title=phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )


_PATH = re.compile(r" - at `\$([^`]*)`")
_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


def _field_errors(extra: object) -> list[FieldError]:
    """Litestar's validation ``extra`` ([{message, key, source}]) as FieldErrors."""
    items = extra if isinstance(extra, list) else [extra] if isinstance(extra, dict) else []
    errors = []
    for item in items:
        if isinstance(item, dict):
            message = str(item.get("message", "invalid value"))
            if message == "'data'":  # Litestar's wording when there is no body at all
                message = "a JSON request body is required"
            key = str(item["key"]) if item.get("key") is not None else None
            named = _NAMED_FIELD.search(message)
            if named:  # "missing required field `x`" is reported against the whole body
                key = named.group(1) if key in (None, "data") else f"{key}.{named.group(1)}"
            raw_source = item.get("source")  # Litestar's ParamType enum: its value ("query"), not its repr
            source = str(getattr(raw_source, "value", raw_source)) if raw_source is not None else None
            errors.append(FieldError(field=key, message=message, source=source))
    return errors


def _body_path_error(request: Request[Any, Any, Any]) -> FieldError | None:
    """Where exactly in the body a validation error is (``[3].card1``), found by decoding it again.

    Litestar reports errors inside a body against ``data`` as a whole; msgspec's own message
    names the path, so the body (already read and kept by Litestar) is decoded once more,
    only on this error path.
    """
    body = ScopeState.from_scope(request.scope).body
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if not isinstance(body, bytes) or data is None:
        return None
    try:
        msgspec.json.decode(body, type=data.annotation, strict=False)
    except msgspec.ValidationError as err:
        message = str(err)
        match = _PATH.search(message)
        if match is None:
            return None
        path = match.group(1).lstrip(".")
        return FieldError(field=path or None, message=_PATH.sub("", message).rstrip(" -"), source="body")
    except (msgspec.DecodeError, TypeError):
        return None
    return None


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra)
        if any(e.field in (None, "data") and e.source == "body" for e in errors):
            precise = _body_path_error(request)
            errors = [precise] if precise is not None else errors
        fields = ", ".join(e.field for e in errors if e.field)
        detail = f"invalid input: {fields}" if fields else exc.detail
        return _respond(request, _problem(400, detail, request, "validation", errors or None))
    detail = exc.detail
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.route_handler.resolve_request_max_body_size()
        detail = f"request body larger than the limit of {limit} bytes" if limit else detail
    slug = _HTTP_SLUGS.get(exc.status_code) or HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    return _respond(request, _problem(exc.status_code, detail, request, slug), exc.headers)


# The `type` of problems Litestar raises itself (the rest: the status phrase, e.g. not-found).
_HTTP_SLUGS = {
    400: "malformed-request",  # a body that is not JSON, a bad Content-Length
    401: "unauthorized",
    403: "forbidden",
    413: "too-large",
}


def on_invalid_row(request: Request[Any, Any, Any], exc: InvalidRow) -> Response[Problem]:
    error = FieldError(field=exc.column, message=exc.reason, source="body")
    return _respond(request, _problem(422, str(exc), request, "invalid-transaction", [error]))


def on_invalid(request: Request[Any, Any, Any], exc: Invalid) -> Response[Problem]:
    error = FieldError(field=exc.field, message=exc.message, source=exc.source)
    return _respond(request, _problem(422, str(exc), request, "validation", [error]))


_STATUS: dict[type[SentinelError], tuple[int, str]] = {
    TransientError: (503, "unavailable"),  # e.g. no champion model yet: retry later
    PoisonMessage: (422, "invalid-transaction"),
    NotFound: (404, "not-found"),
    Conflict: (409, "conflict"),
    Unavailable: (503, "unavailable"),
}


def on_sentinel_error(request: Request[Any, Any, Any], exc: SentinelError) -> Response[Problem]:
    for kind, (status, slug) in _STATUS.items():
        if isinstance(exc, kind):
            return _respond(request, _problem(status, str(exc), request, slug))
    return on_unexpected(request, exc)


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    ref = uuid.uuid4().hex[:12]
    log.error("unhandled error ref=%s path=%s", ref, request.url.path, exc_info=exc, extra={"ref": ref})
    return _respond(request, _problem(500, f"internal error (reference {ref})", request, "internal"))


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    HTTPException: on_http_error,
    InvalidRow: on_invalid_row,
    Invalid: on_invalid,
    SentinelError: on_sentinel_error,
    Exception: on_unexpected,
}

_DESCRIPTIONS = {
    400: "Malformed request (validation errors name the field)",
    401: "Missing or unknown API key",
    403: "The API key's role does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body or batch too large",
    422: "Invalid value (names the field)",
    429: "Too many failed authentications from this address (Retry-After says when to retry)",
    503: "A dependency is not available",
}


def problem_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem documents a route may answer with (400 always; 429 with
    401: a guarded route refuses an address after too many failed authentications)."""
    return {
        code: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[code],
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for code in sorted({400, *codes, *((429,) if 401 in codes else ())})
    }
