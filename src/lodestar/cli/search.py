"""`lodestar search "words"` (through the server, like `get` and `list`) and
`lodestar search reindex` (rebuilds the search index of the configured database in-process,
a page at a time, while the server keeps serving)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lodestar.cli.common import echo_json, out, reported, usage
from lodestar.cli.remote import DEFAULT_URL, AsJson, Token, Url, connect


class _WordsOrCommand(TyperGroup):
    """`lodestar search WORDS...` runs the hidden `find`; `lodestar search reindex` runs
    `reindex` (to look for the single word "reindex", pass `--kind` or quote it with a
    space: `"reindex "`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # a click Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["find", *args]
        elif not args:
            args = ["find", "--help"]
        return super().parse_args(ctx, args)


search_app = typer.Typer(
    cls=_WordsOrCommand,
    help='Search the catalog: lodestar search "words" [--kind table] [--tag PII.Sensitive]; '
    "lodestar search reindex rebuilds the index.",
    no_args_is_help=False,
)


@search_app.command("find", hidden=True)
def find(
    words: Annotated[list[str], typer.Argument(help="What to look for.")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only assets with this tag (repeatable).")
    ] = None,
    owner: Annotated[
        list[str] | None, typer.Option("--owner", help="Only assets this user or team owns.")
    ] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Only this domain.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="How many hits.")] = 10,
    sort: Annotated[
        str, typer.Option("--sort", help="relevance, name, updated or popularity.")
    ] = "relevance",
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Search every asset kind by words, names, FQN fragments, columns, tags and owners."""
    from lodestar.cli import render
    from lodestar.client.errors import InvalidInput

    q = " ".join(words)
    if not q.strip():
        usage('give the words to look for: lodestar search "customer orders"')
    with reported(), connect(url, token) as client:
        try:
            page: dict[str, Any] = client.search(
                q,
                kind=kind,
                tag=tag,
                owner=owner,
                filters={"domain": domain} if domain else None,
                sort=sort,
                limit=limit,
            )
        except InvalidInput as e:
            usage(e.detail or str(e))
        if as_json:
            echo_json(page)
        else:
            out().print(render.search_hits(page))


@search_app.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the stored assets, a page at a time, with a progress
    bar; the server keeps serving meanwhile."""
    from lodestar.cli.local import db_reindex

    db_reindex("search")
