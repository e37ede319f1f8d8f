"""API keys: parsing, constant-time lookup, role grants (admin implies every role)."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from gateway.auth import KeyRing, Role, parse_api_keys


def test_parse_reads_role_key_pairs() -> None:
    keys = parse_api_keys(" admin:a1 , analyst:b2,scorer:c3,")
    assert keys == {b"a1": Role.ADMIN, b"b2": Role.ANALYST, b"c3": Role.SCORER}


def test_parse_keeps_colons_inside_the_key() -> None:
    assert parse_api_keys("admin:abc:def") == {b"abc:def": Role.ADMIN}


@pytest.mark.parametrize("spec", ["admin", "root:x", "admin: ", ":x"])
def test_parse_rejects_malformed_entries_without_echoing_them(spec: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_api_keys(spec)
    assert "x" not in str(err.value).replace("expected", "")  # never echo a key


def test_keyring_identifies_the_role_and_names_it_without_the_key() -> None:
    ring = KeyRing(parse_api_keys("admin:secret-a,scorer:secret-s"))
    principal = ring.identify("secret-s")
    assert principal is not None and principal.role is Role.SCORER
    assert "secret" not in principal.name
    assert ring.identify("secret") is None
    assert ring.identify("") is None
    assert ring.identify(None) is None


@pytest.mark.parametrize(
    ("role", "granted"),
    [
        (Role.ADMIN, {Role.ADMIN, Role.ANALYST, Role.SCORER}),
        (Role.ANALYST, {Role.ANALYST}),
        (Role.SCORER, {Role.SCORER}),
    ],
)
def test_roles_grant(role: Role, granted: set[Role]) -> None:
    principal = KeyRing({b"k": role}).identify("k")
    assert principal is not None
    assert {r for r in Role if principal.holds(r)} == granted
