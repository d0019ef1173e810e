"""`lodestar lineage ...`: lineage commands (the graph through a server; SQL analysed here).
Each command keeps its work in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lodestar.cli.common import echo_json, out, reported
from lodestar.cli.remote import DEFAULT_URL, AsJson, Token, Url, _key, connect

lineage_app = typer.Typer(
    no_args_is_help=True, help="Lineage: the graph, impact and paths; lineage from SQL text."
)


@lineage_app.command("show")
def show(
    fqn: Annotated[str, typer.Argument(help="The asset's fully qualified name (or its id).")],
    kind: Annotated[str, typer.Option("--kind", help="Asset kind.")] = "table",
    upstream: Annotated[bool, typer.Option("--upstream", help="Walk upstream.")] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Walk downstream (the default; both: both).")
    ] = False,
    depth: Annotated[int, typer.Option("--depth", min=0, help="Hops from the asset.")] = 3,
    columns: Annotated[bool, typer.Option("--columns", help="Show column pairs.")] = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Show the lineage around an asset as a tree (every page of it)."""
    from lodestar.cli import lineage_tree

    direction = "both" if upstream and downstream else "upstream" if upstream else "downstream"
    with reported(), connect(url, token) as client:
        graph = client.lineage_graph(
            kind, direction=direction, depth=depth, columns=columns, **_key(fqn)
        )
    if as_json:
        echo_json(graph)
    else:
        out().print(lineage_tree.tree(graph, columns=columns))


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
