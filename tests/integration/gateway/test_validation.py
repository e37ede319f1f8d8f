"""Request validation at the gateway (issue 16, item 9): unknown fields and numeric strings are
refused naming the field, and every problem Litestar raises itself carries a `type`."""

from __future__ import annotations

import json

import pytest

from tests.integration.gateway.conftest import Client, Trained, auth

pytestmark = pytest.mark.integration

PROBLEM = "https://sentinel.dev/problems/"


def _row(trained: Trained) -> dict[str, object]:
    return dict(json.loads(trained.raw[2_000]))


def test_unknown_field_in_score_is_refused_naming_it(scoring_client: Client, trained: Trained) -> None:
    row = {**_row(trained), "P_emaildomian": "gmail.com"}  # a misspelt optional column
    response = scoring_client.post("/v1/score", json=row, headers=auth("scorer"))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == PROBLEM + "validation"
    assert problem["errors"] == [
        {
            "field": "P_emaildomian",
            "message": "Object contains unknown field `P_emaildomian`",
            "source": "body",
        }
    ]
    assert "P_emaildomian" in problem["detail"]


def test_unknown_field_in_a_batch_names_the_row(client: Client, trained: Trained) -> None:
    rows = [_row(trained), {**_row(trained), "TransactionID": 7, "extra": 1}]
    response = client.post("/v1/transactions", json=rows, headers=auth("scorer"))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "[1].extra"


def test_numeric_strings_are_not_coerced(scoring_client: Client, trained: Trained) -> None:
    row = _row(trained)
    row["card1"] = str(row["card1"])
    response = scoring_client.post("/v1/score", json=row, headers=auth("scorer"))
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "card1" and "Expected `int`, got `str`" in error["message"]


def test_every_bad_field_is_reported_not_only_the_first(scoring_client: Client, trained: Trained) -> None:
    row = _row(trained)
    row.update({"card1": str(row["card1"]), "TransactionAmt": -5, "P_emaildomian": "gmail.com"})
    del row["ProductCD"]
    response = scoring_client.post("/v1/score", json=row, headers=auth("scorer"))
    assert response.status_code == 400, response.text
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"card1", "TransactionAmt", "P_emaildomian", "ProductCD"}, errors
    assert errors["card1"] == "Expected `int`, got `str`"
    assert errors["TransactionAmt"] == "Expected `float` >= 0.0"
    assert errors["ProductCD"] == "Object missing required field `ProductCD`"
    assert all(e["source"] == "body" for e in response.json()["errors"])
    detail = response.json()["detail"]
    assert all(name in detail for name in errors)


def test_every_bad_row_of_a_batch_is_reported(client: Client, trained: Trained) -> None:
    good, bad_type, unknown = _row(trained), _row(trained), _row(trained)
    bad_type["card1"] = "13926"
    unknown["extra"] = 1
    response = client.post("/v1/transactions", json=[good, bad_type, unknown], headers=auth("scorer"))
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["[1].card1", "[2].extra"]


def test_a_valid_row_still_scores(scoring_client: Client, trained: Trained) -> None:
    response = scoring_client.post("/v1/score?dry_run=true", json=_row(trained), headers=auth("scorer"))
    assert response.status_code == 200, response.text


def test_auth_problems_carry_a_type(client: Client) -> None:
    missing = client.get("/v1/strategy")
    assert missing.status_code == 401 and missing.json()["type"] == PROBLEM + "unauthorized"
    wrong_role = client.put("/v1/strategy", json={}, headers=auth("scorer"))
    assert wrong_role.status_code == 403 and wrong_role.json()["type"] == PROBLEM + "forbidden"


def test_too_large_states_the_limit(client: Client) -> None:
    big = b'{"pad": "' + b"x" * 300_000 + b'"}'
    response = client.put(
        "/v1/strategy", content=big, headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    problem = response.json()
    assert problem["type"] == PROBLEM + "too-large"
    assert "200000 bytes" in problem["detail"]  # the fixture's max_body_bytes


def test_malformed_json_carries_a_type(client: Client) -> None:
    response = client.put(
        "/v1/strategy", content=b"{not json", headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM + "malformed-request"


def test_query_parameter_errors_say_query(client: Client) -> None:
    response = client.get("/v1/transactions?risk_level=extreme", headers=auth("analyst"))
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "risk_level" and error["source"] == "query"


IMPLAUSIBLE = {"C1": 1e308, "D1": -1e308, "TransactionDT": 10**10, "dist1": 1e9, "addr1": 1e300, "V12": 1e300}
"""Issue 11, item 7: values no transaction can hold (they passed before: 1e308 counts ...)."""


@pytest.mark.parametrize("route", ["/v1/score", "/v1/transactions"])
@pytest.mark.parametrize("column", sorted(IMPLAUSIBLE))
def test_an_implausible_value_is_a_400_naming_the_column(
    column: str, route: str, client: Client, trained: Trained
) -> None:
    row = {**_row(trained), column: IMPLAUSIBLE[column]}
    response = client.post(route, json=row, headers=auth("scorer"))
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == column and "Expected `" in error["message"]
