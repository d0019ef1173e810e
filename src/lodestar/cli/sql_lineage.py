"""`lodestar lineage sql`: read the SQL, analyse it in-process, print a table or the JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lodestar.cli.common import EXIT_FAILED, echo_json, note, out, usage


def read_sql(path: Path | None) -> str:
    if path is None:
        if sys.stdin.isatty():
            usage("give a SQL file, or pipe the SQL in: lodestar lineage sql - < query.sql")
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        usage(f"no file {str(path)!r}: give the path of a SQL file, or - for stdin")
    except (OSError, UnicodeDecodeError) as e:
        usage(f"cannot read {str(path)!r}: {e}")


def run(
    path: Path | None,
    dialect: str | None,
    default_database: str | None,
    default_schema: str | None,
    as_json: bool,
) -> None:
    from lodestar.lineage.sql import UnknownDialectError, analyze

    text = read_sql(path)
    try:
        result = analyze(
            text, dialect=dialect, default_database=default_database, default_schema=default_schema
        )
    except UnknownDialectError as e:
        usage(f"{e}; pass one with --dialect")
    if as_json:
        echo_json(result.as_dict())
    else:
        _print(result.sources, result.targets, result.columns)
        for error in result.errors:
            note(f"statement {error.statement}: {error.message}")
    if result.errors:
        raise typer.Exit(EXIT_FAILED)


def _print(sources: list[str], targets: list[str], columns: list[tuple[str, str]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = out()
    console.print(f"[bold]sources[/bold]  {escape(', '.join(sources)) or '-'}")
    console.print(f"[bold]targets[/bold]  {escape(', '.join(targets)) or '-'}")
    if columns:
        table = Table("source column", "target column", box=None, pad_edge=False)
        for source, target in columns:
            table.add_row(escape(source), escape(target))
        console.print(table)
