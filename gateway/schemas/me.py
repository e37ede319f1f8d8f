"""Gateway DTO of the caller's identity."""

from __future__ import annotations

import msgspec


class Me(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # non-secret key name, as audit entries show it (e.g. "analyst#2")
    role: str
    roles: list[str]  # every role the key holds (admin holds all)
