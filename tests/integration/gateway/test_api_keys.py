"""API keys held as hashes: a `role:sha256:<hex>` setting admits the plaintext key; nothing in the
running app holds a plaintext key."""

from __future__ import annotations

import hashlib

import pytest
from litestar.testing import TestClient

from core.settings import Settings
from infra.gateway import gateway_app

pytestmark = pytest.mark.integration

ANALYST_KEY = "k-analyst-hashed-only"
ADMIN_KEY = "k-admin-plain-configured"


def test_a_hashed_key_setting_admits_its_key_and_the_app_keeps_no_plaintext(settings: Settings) -> None:
    digest = hashlib.sha256(ANALYST_KEY.encode()).hexdigest()
    live = settings.replace(gateway={"api_keys": f"analyst:sha256:{digest},admin:{ADMIN_KEY}"})
    app = gateway_app(live)
    with TestClient(app=app) as client:
        me = client.get("/v1/me", headers={"X-API-Key": ANALYST_KEY})
        assert me.status_code == 200 and me.json()["role"] == "analyst"
        assert client.get("/v1/me", headers={"X-API-Key": ADMIN_KEY}).json()["role"] == "admin"
        assert client.get("/v1/me", headers={"X-API-Key": f"sha256:{digest}"}).status_code == 401
    held = repr(vars(app.state.keyring))
    assert ADMIN_KEY not in held and ANALYST_KEY not in held
    assert ADMIN_KEY.encode() not in b"".join(d for d, _ in app.state.keyring._entries)
