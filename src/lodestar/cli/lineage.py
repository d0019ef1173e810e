"""`lodestar lineage ...`: lineage commands. Each command keeps its work in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

lineage_app = typer.Typer(no_args_is_help=True, help="Lineage: from SQL text, and the graph.")


@lineage_app.command("sql")
def sql(
    file: Annotated[
        str, typer.Argument(help="File with the SQL text; `-` (the default) reads stdin.")
    ] = "-",
    dialect: Annotated[
        str | None, typer.Option("--dialect", "-d", help="postgres, mysql, snowflake, ...")
    ] = None,
    default_database: Annotated[
        str | None, typer.Option(help="Database for names the SQL leaves unqualified.")
    ] = None,
    default_schema: Annotated[
        str | None, typer.Option(help="Schema for names the SQL leaves unqualified.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON answer of POST /api/v1/sql/lineage.")
    ] = False,
) -> None:
    """Tables and columns a SQL text reads and writes, analysed here (no server needed).

    Exit code 1 when some statement could not be read (the rest is still printed).
    """
    from lodestar.cli.sql_lineage import run

    run(Path(file) if file != "-" else None, dialect, default_database, default_schema, as_json)
