"""The gateway's commands are registered and documented: `sentinel gateway`, `sentinel bench api`."""

from __future__ import annotations

from click.testing import CliRunner

from infra.cli import cli


def test_gateway_command_help() -> None:
    result = CliRunner().invoke(cli, ["gateway", "--help"])
    assert result.exit_code == 0, result.output
    assert "--workers" in result.output
    assert "HTTP API" in result.output


def test_bench_api_help() -> None:
    result = CliRunner().invoke(cli, ["bench", "api", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--json", "--rates", "--workers", "--duration"):
        assert option in result.output
