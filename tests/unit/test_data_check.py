"""`sentinel data check`: counts, messages and exit status on good and bad files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from data.check import check_files
from data.cli import data
from data.loader import DataFiles

FIXTURES = Path(__file__).parent / "data_fixtures"


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(data, ["check", *args], terminal_width=200)
    return result.exit_code, result.output


def test_good_files_exit_zero_with_counts() -> None:
    code, out = _check(
        "--transactions",
        str(FIXTURES / "train_transaction.csv"),
        "--identity",
        str(FIXTURES / "train_identity.csv"),
    )
    assert code == 0, out
    assert "rows: 5  valid: 5  invalid: 0" in out


def test_test_files_report_the_ignored_column() -> None:
    code, out = _check(
        "--transactions",
        str(FIXTURES / "test_transaction.csv"),
        "--identity",
        str(FIXTURES / "test_identity.csv"),
    )
    assert code == 0, out
    assert "valid: 2" in out and "ignored unknown columns: Unexpected" in out


def test_bad_file_counts_each_problem_and_exits_one() -> None:
    code, out = _check("--transactions", str(FIXTURES / "bad_transaction.csv"))
    assert code == 1
    assert "rows: 7  valid: 1  invalid: 6" in out
    report = check_files(DataFiles(FIXTURES / "bad_transaction.csv"))
    assert report.problems == {
        "TransactionDT: Expected `int` >= 0": 2,
        "ProductCD: Invalid enum value 'X'": 1,
        "TransactionAmt: Expected `float`": 1,
        "card1: Object missing required field `card1`": 1,
        "card4: Invalid enum value 'diners'": 1,
    }
    # Messages name the row, the column and the value.
    assert report.examples["TransactionDT: Expected `int` >= 0"][0].startswith(
        "TransactionID 2: column TransactionDT='-5'"
    )
    assert "TransactionAmt='abc'" in report.examples["TransactionAmt: Expected `float`"][0]
    assert "TransactionDT" in out and "diners" in out


def test_orphan_identity_rows_fail_the_check(tmp_path: Path) -> None:
    identity = tmp_path / "train_identity.csv"
    lines = (FIXTURES / "train_identity.csv").read_text().splitlines()
    identity.write_text("\n".join([*lines, "999," + lines[1].split(",", 1)[1]]) + "\n")
    code, out = _check("--transactions", str(FIXTURES / "train_transaction.csv"), "--identity", str(identity))
    assert code == 1
    assert "identity rows without a transaction: 1" in out


def test_missing_required_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("TransactionID,TransactionDT\n1,86400\n")
    code, out = _check("--transactions", str(path))
    assert code == 1
    assert "required column(s) missing" in out and "TransactionAmt" in out
