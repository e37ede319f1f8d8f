"""Gateway edge behaviour on a real Redis: probes, problem details, body limit, CORS, docs."""

from __future__ import annotations

import pytest

from tests.integration.gateway.conftest import Client, auth

pytestmark = pytest.mark.integration


def test_healthz_is_open(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_check(client: Client) -> None:
    body = client.get("/readyz").json()
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["redis"]["ok"] is True


def test_prometheus_metrics_are_open_and_count_requests(client: Client) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "sentinel_gateway_requests_total" in response.text


def test_unknown_path_is_a_problem_document(client: Client) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 404 and problem["title"] == "Not Found"
    assert problem["instance"] == "/v1/nothing-here"


def test_validation_error_names_the_field(client: Client) -> None:
    response = client.put(
        "/v1/strategy", json={"review_threshold": "high", "decline_threshold": 0.9}, headers=auth("admin")
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"][0]["field"] == "review_threshold"
    assert "review_threshold" in problem["detail"]
    assert "Traceback" not in response.text


def test_body_over_the_limit_is_413(client: Client) -> None:
    big = b'{"review_threshold": 0.1, "decline_threshold": 0.9, "pad": "' + b"x" * 300_000 + b'"}'
    response = client.put(
        "/v1/strategy", content=big, headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


def test_malformed_json_is_400_without_trace(client: Client) -> None:
    response = client.put(
        "/v1/strategy", content=b"{not json", headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text and "File " not in response.text


def test_cors_allows_the_configured_origin_only(client: Client) -> None:
    allowed = "http://127.0.0.1:3000"
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"}
    ok = client.options("/v1/strategy", headers={"Origin": allowed, **preflight})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == allowed
    denied = client.options("/v1/strategy", headers={"Origin": "http://evil.example", **preflight})
    assert denied.headers.get("access-control-allow-origin") != "http://evil.example"


def test_openapi_schema_and_docs_page(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
    }
    assert "/v1/strategy" in schema["paths"]
    assert client.get("/schema/swagger").status_code == 200
    assert client.get("/schema").status_code == 200


SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path", "role", "status", "no_store"),
    [
        ("GET", "/healthz", None, 200, False),
        ("GET", "/schema/swagger", None, 200, False),
        ("GET", "/schema/assets/swagger-ui-bundle.js", None, 200, False),
        ("GET", "/v1/strategy", "analyst", 200, True),
        ("GET", "/v1/strategy", None, 401, True),
        ("PUT", "/v1/strategy", "scorer", 403, True),
        ("GET", "/v1/nothing-here", None, 404, True),
    ],
)
def test_every_response_carries_the_security_headers(
    client: Client, method: str, path: str, role: str | None, status: int, no_store: bool
) -> None:
    response = client.request(method, path, headers=auth(role) if role else {})
    assert response.status_code == status
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, name
    assert (response.headers.get("cache-control") == "no-store") is no_store


def test_overview_functions_leave_out_internal_plumbing(client: Client) -> None:
    overview = client.get("/v1/metrics/overview", headers=auth("analyst"))
    assert overview.status_code == 200, overview.text
    names = [f["name"] for f in overview.json()["functions"]]
    assert {"enrich", "score", "label"} <= set(names)
    assert "noop" not in names
