"""Hostile input on the command line: bad arguments, bad settings, a corrupt ``stack.json``.

Each must end with one clear ``Error:`` line naming what is wrong, a non-zero exit status and no
traceback. Most run in process (``CliRunner``: an exception the command does not turn into an
error would be ``result.exception``, not ``SystemExit``); one of each kind runs as a user runs it,
a subprocess of the installed ``sentinel``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.settings import get_settings
from infra.cli import cli

SENTINEL = str(Path(sys.executable).parent / "sentinel")
ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENTINEL_") or k in ("SENTINEL_TEST_SERVICES",)
    }
    environment.update({"SENTINEL_LOCAL_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [SENTINEL, *args], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def _invoke(tmp_path: Path, *args: str, **env: str) -> Result:
    variables: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SENTINEL_")}
    variables.update({"SENTINEL_LOCAL_STATE_DIR": str(tmp_path / "state"), **env})
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args), env=variables)
    finally:
        get_settings.cache_clear()


def _error(result: Result) -> str:
    assert isinstance(result.exception, SystemExit) and result.exit_code != 0, result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def _error_line(run: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line of a failed command (click's usage lines may stand before it)."""
    assert run.returncode != 0, run.stdout
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, run.stderr
    others = [
        line for line in run.stderr.splitlines() if line and not line.startswith(("Error:", "Usage:", "Try "))
    ]
    assert others == [], run.stderr
    return errors[0]


def test_jobs_run_with_an_unknown_name_names_the_choices(tmp_path: Path) -> None:
    line = _error_line(_run(tmp_path, "jobs", "run", "nope"))  # as a user sees it
    assert "'nope' is not one of 'drift', 'shadow', 'retrain'" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--shift-at", "soon"), "--shift-at"),
        (("--shift-at", "-5"), "--shift-at"),
        (("--shift-at", "100", "--amount-factor", "0"), "--amount-factor"),
        (("--shift-at", "100", "--amount-factor", "lots"), "--amount-factor"),
        (("--shift-at", "100", "--product-mix", "W:C"), "--product-mix: 'W:C' is not FROM:TO:SHARE"),
        (("--shift-at", "100", "--product-mix", "W:X:0.5"), "--product-mix: 'X' is not a product code"),
        (("--shift-at", "100", "--product-mix", "W:C:half"), "--product-mix: share 'half' is not a number"),
        (("--shift-at", "100", "--product-mix", "W:C:1.5"), "--product-mix: share 1.5 is not in [0, 1]"),
        (("--shift-at", "100", "--fraud-cards", "5000"), "--fraud-cards: '5000' is not LOW:HIGH"),
        (("--shift-at", "100", "--fraud-cards", "a:b"), "--fraud-cards: 'a:b' is not LOW:HIGH"),
        (("--shift-at", "100", "--fraud-cards", "5400:5000"), "LOW must be below HIGH"),
        (("--fraud-cards", "5000:5400"), "need --shift-at"),
        (("--shift-at", "100", "--thin-product", "W"), "--thin-product: 'W' is not PRODUCT:SHARE"),
        (("--shift-at", "100", "--thin-product", "X:0.5"), "--thin-product: 'X' is not a product code"),
        (("--shift-at", "100", "--thin-product", "W:2"), "--thin-product: share 2 is not in [0, 1]"),
        (("--thin-product", "W:0.5"), "need --shift-at"),
    ],
)
def test_simulate_refuses_bad_what_if_values(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    assert expected in _error(_invoke(tmp_path, "simulate", "--limit", "1", *args))


def test_simulate_bad_value_as_a_user_sees_it(tmp_path: Path) -> None:
    run = _run(tmp_path, "simulate", "--shift-at", "100", "--product-mix", "W:C")
    assert "--product-mix: 'W:C' is not FROM:TO:SHARE" in _error_line(run)


@pytest.mark.parametrize(
    "content",
    [
        '{"pid": ',  # truncated
        "[1, 2]",  # not an object
        '{"pid": "12", "redis_url": "redis://127.0.0.1:1/0", "kafka_bootstrap": "x:1"}',  # pid as text
        # a live pid (this test's) with a URL that is no Redis URL: it must not reach the client
        '{"pid": PID, "redis_url": "nonsense", "kafka_bootstrap": "127.0.0.1:1"}',
        "",
    ],
)
def test_a_corrupt_stack_file_is_one_line_naming_it(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "stack.json").write_text(content.replace("PID", str(os.getpid())))
    for args in (("dlq", "list"), ("fn", "list", "--stats")):
        line = _error(_invoke(tmp_path, *args))
        assert "stack.json is corrupt" in line and "delete it" in line


def test_a_corrupt_stack_file_as_a_user_sees_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "stack.json").write_text(
        f'{{"pid": {os.getpid()}, "redis_url": "nonsense", "kafka_bootstrap": ""}}'
    )
    assert "stack.json is corrupt" in _error_line(_run(tmp_path, "fn", "list", "--stats"))


def test_a_stack_file_of_an_ended_process_means_no_stack(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    info = {"pid": 2**22 + 1, "redis_url": "redis://127.0.0.1:1/0", "kafka_bootstrap": "127.0.0.1:1"}
    (state / "stack.json").write_text(json.dumps(info))
    assert "no Sentinel stack is running in" in _error(_invoke(tmp_path, "dlq", "list"))


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SENTINEL_STREAMS_BATCH_SIZE", "many"), ("SENTINEL_REDIS_URL", "localhost:6379")],
)
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    line = _error(_invoke(tmp_path, "config", **{variable: value}))
    assert line.startswith(f"Error: invalid setting {variable}:")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--seeds", "1,abc"), "--seeds"),
        (("--seeds", ""), "--seeds"),
        (("--seeds", "99999999999999999999"), "--seeds"),
        (("--rows", "-5"), "--rows"),
        (("--rows", "many"), "--rows"),
    ],
)
def test_bench_ablation_refuses_bad_seeds_and_rows(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    assert expected in _error(_invoke(tmp_path, "bench", "ablation", "--drop", "device_*", *args))
