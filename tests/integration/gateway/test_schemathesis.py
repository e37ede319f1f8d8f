"""Property-based API test: schemathesis generates requests from the OpenAPI schema of a real server.

Bounded (a few dozen examples per operation) so it fits in CI. It fails on any 5xx and on a
response that does not match the documented status codes, content type, headers or schema. Live events are excluded (a stream that stays open is
tested on its own in test_events).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from core.settings import Settings
from infra.bench.gateway_process import GatewayProcess
from infra.gateway import gateway_app
from infra.services import ensure_topics
from tests.integration.gateway.conftest import KEYS, Trained
from tests.keyspace import delete_prefix

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_server(
    redis_url: str, kafka_bootstrap: str, trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    suffix = uuid.uuid4().hex[:8]
    live = Settings().replace(
        redis={"url": redis_url, "key_prefix": prefix},
        kafka={
            "bootstrap": kafka_bootstrap,
            "topic_transactions": f"tx-{suffix}",
            "topic_labels": f"lb-{suffix}",
        },
        # the fuzzer sends many unknown keys: keep the failed-auth limit out of its way (429 is
        # documented; tests/integration/gateway/test_auth_limit.py covers it)
        gateway={
            "api_keys": ",".join(f"{role}:{key}" for role, key in KEYS.items()),
            "auth_max_failures": 1_000_000,
        },
        local={"state_dir": tmp / "state"},
        models={"registry_dir": trained.registry_dir},
    )
    ensure_topics(kafka_bootstrap, [live.kafka.topic_transactions, live.kafka.topic_labels], 1)
    try:
        with GatewayProcess(live, workers=1) as server:
            yield server
    finally:
        delete_prefix(redis_url, prefix)


def _documented_schema() -> dict[str, object]:
    """The app's OpenAPI document, built without serving (no client connects at import time)."""
    app = gateway_app(Settings().replace(redis={"url": "redis://127.0.0.1:1/0"}))
    return app.openapi_schema.to_schema()


# What the API promises: no 5xx, and every answer matches its documented status code, content
# type, headers and body schema. Left out: whether out-of-schema input is rejected and in-schema
# input accepted (business rules such as review < decline answer 422 to schema-valid bodies;
# unknown query parameters are ignored, as HTTP allows), and the OPTIONS Allow header (CORS).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(_documented_schema()).exclude(path="/v1/events")


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], api_server: GatewayProcess) -> None:
    case.call_and_validate(
        base_url=api_server.url, headers={"X-API-Key": KEYS["admin"]}, checks=CHECKS, timeout=30
    )
