"""`lodestar lineage sql`: in-process analysis of a file or stdin, a table or the JSON
contract, exit 1 when a statement could not be read, 2 for bad usage."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from lodestar.cli.main import app

SCRIPT = (
    "CREATE TEMP TABLE t AS SELECT id, amount FROM raw.payments;\n"
    "INSERT INTO mart.p SELECT id, amount * 100 AS cents FROM t;\n"
)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["lineage", "sql", *args], input=input)


def test_json_from_a_file_is_the_api_contract(tmp_path: Path) -> None:
    path = tmp_path / "job.sql"
    path.write_text(SCRIPT)
    result = run("--dialect", "postgres", "--default-database", "shop", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "sources": ["shop.raw.payments"],
        "targets": ["shop.mart.p"],
        "columns": [
            ["shop.raw.payments.id", "shop.mart.p.id"],
            ["shop.raw.payments.amount", "shop.mart.p.cents"],
        ],
        "errors": [],
    }


def test_table_from_stdin_and_errors_exit_1() -> None:
    result = run("-d", "postgres", "-", input=SCRIPT + "SELEC oops;\n")
    assert result.exit_code == 1
    assert "sources  raw.payments" in result.stdout
    assert "targets  mart.p" in result.stdout
    assert "raw.payments.amount  mart.p.cents" in result.stdout
    assert "statement 3: cannot parse" in result.stderr


def test_bad_usage_exits_2_and_says_how_to_fix_it(tmp_path: Path) -> None:
    unknown = run("--dialect", "cobol", "-", input="SELECT 1")
    assert unknown.exit_code == 2
    assert "known dialects:" in unknown.stderr and "--dialect" in unknown.stderr
    missing = run(str(tmp_path / "nope.sql"))
    assert missing.exit_code == 2 and "no file" in missing.stderr
