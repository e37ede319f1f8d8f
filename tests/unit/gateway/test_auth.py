"""API keys: parsing, constant-time lookup, role grants (admin implies every role)."""

from __future__ import annotations

import hashlib
import inspect

import pytest

from core.errors import ConfigError
from gateway.auth import KeyRing, Role, parse_api_keys, requires


def sha(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def test_parse_reads_role_key_pairs_and_keeps_only_their_hashes() -> None:
    keys = parse_api_keys(" admin:a1 , analyst:b2,scorer:c3,")
    assert keys == {sha("a1"): Role.ADMIN, sha("b2"): Role.ANALYST, sha("c3"): Role.SCORER}


def test_parse_keeps_colons_inside_the_key() -> None:
    assert parse_api_keys("admin:abc:def") == {sha("abc:def"): Role.ADMIN}


def test_parse_accepts_a_given_sha256_digest() -> None:
    hexed = hashlib.sha256(b"the-key").hexdigest()
    assert parse_api_keys(f"analyst:sha256:{hexed.upper()}") == {sha("the-key"): Role.ANALYST}
    ring = KeyRing(parse_api_keys(f"analyst:sha256:{hexed}"))
    principal = ring.identify("the-key")
    assert principal is not None and principal.role is Role.ANALYST
    assert ring.identify(f"sha256:{hexed}") is None  # the digest itself is not a key


def test_sha256_prefix_without_a_whole_digest_is_a_plaintext_key() -> None:
    assert parse_api_keys("admin:sha256:abc") == {sha("sha256:abc"): Role.ADMIN}


def test_keyring_holds_no_plaintext_key() -> None:
    ring = KeyRing(parse_api_keys("admin:plain-secret-a,scorer:plain-secret-s"))
    held = repr(
        [(digest, vars(p) if hasattr(p, "__dict__") else (p.role, p.name)) for digest, p in ring._entries]
    )
    assert b"plain-secret" not in b"".join(digest for digest, _ in ring._entries)
    assert "plain-secret" not in held


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
    principal = KeyRing({sha("k"): role}).identify("k")
    assert principal is not None
    assert {r for r in Role if principal.holds(r)} == granted


@pytest.mark.parametrize("role", [*Role, None])
def test_the_route_guard_is_a_coroutine_so_litestar_runs_it_without_a_thread_hop(role: Role | None) -> None:
    # Litestar runs a plain function guard in its thread pool on every request
    assert inspect.iscoroutinefunction(requires(role))
