"""`sentinel bench e2e` is registered and documented."""

from __future__ import annotations

from click.testing import CliRunner

from infra.cli import cli


def test_bench_e2e_help_names_its_runs_and_options() -> None:
    result = CliRunner().invoke(cli, ["bench", "e2e", "--help"])
    assert result.exit_code == 0, result.output
    for option in (
        "--json",
        "--rate",
        "--seconds",
        "--events",
        "--ladder",
        "--p99-ms",
        "--stage",
        "--workers",
    ):
        assert option in result.output
    listing = CliRunner().invoke(cli, ["bench", "--help"])
    assert "e2e" in listing.output
