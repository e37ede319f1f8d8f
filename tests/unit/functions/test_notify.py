"""``functions.notify``: signing and the retry rule, with a scripted receiver (no network)."""

from __future__ import annotations

import hashlib
import hmac

from functions.notify import RetryPolicy, deliver, signature

BODY = b'{"TransactionID": 7}'


def _script(*answers: int | OSError) -> tuple[list[dict[str, str]], object]:
    seen: list[dict[str, str]] = []
    queue = list(answers)

    def post(body: bytes, headers: dict[str, str]) -> int:
        assert body == BODY
        seen.append(headers)
        answer = queue.pop(0)
        if isinstance(answer, OSError):
            raise answer
        return answer

    return seen, post


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(b"k", 1_700_000_000, BODY) == f"sha256={expected}"


def test_waits_double_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=8, backoff_s=0.5, backoff_max_s=3.0)
    assert [policy.wait_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_no_answer_and_5xx_are_retried_then_delivered() -> None:
    seen, post = _script(OSError("refused"), 503, 429, 204)
    slept: list[float] = []
    outcome = deliver(BODY, "7", post, b"k", RetryPolicy(5, 1.0, 10.0), lambda: 1.0, slept.append)  # type: ignore[arg-type]
    assert (outcome.delivered, outcome.tries, slept) == (True, 4, [1.0, 2.0, 4.0])
    assert {h["X-Sentinel-Delivery"] for h in seen} == {"7"}


def test_a_refusal_is_not_retried() -> None:
    seen, post = _script(400)
    outcome = deliver(BODY, "7", post, b"k", RetryPolicy(5), lambda: 1.0, lambda _: None)  # type: ignore[arg-type]
    assert (outcome.delivered, outcome.tries, len(seen)) == (False, 1, 1)
    assert outcome.error == "the receiver refused the alert: answered 400"


def test_the_budget_spent_gives_the_last_error() -> None:
    _, post = _script(500, 502, OSError("timed out"))
    outcome = deliver(BODY, "7", post, b"k", RetryPolicy(3), lambda: 1.0, lambda _: None)  # type: ignore[arg-type]
    assert not outcome.delivered
    assert outcome.error == "3 tries failed, the last: no answer: timed out"
