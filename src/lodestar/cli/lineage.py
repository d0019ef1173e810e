"""`lodestar lineage ...`: lineage through a server (the tree is drawn by `lineage_tree`)."""

from __future__ import annotations

from typing import Annotated

import typer

from lodestar.cli.common import echo_json, out, reported
from lodestar.cli.remote import DEFAULT_URL, AsJson, Token, Url, _key, connect

lineage_app = typer.Typer(no_args_is_help=True, help="Lineage: the graph, impact and paths.")


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
