"""The `lodestar` command. Each command module imports its heavy dependencies inside the
command, so `lodestar --help` starts fast."""

from __future__ import annotations

from typing import Annotated

import typer

from lodestar.cli import demo, ingest, local, quality, remote
from lodestar.cli.lineage import lineage_app
from lodestar.cli.search import search_app

app = typer.Typer(
    name="lodestar",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_SERVER = "Server and database"
_CLIENT = "Catalog (through a server)"
_INGEST = "Ingestion"

app.command("serve", rich_help_panel=_SERVER)(local.serve)
app.command("demo", rich_help_panel=_SERVER)(demo.demo)
app.add_typer(local.db_app, name="db", rich_help_panel=_SERVER)
app.add_typer(local.token_app, name="token", rich_help_panel=_SERVER)

app.command("get", rich_help_panel=_CLIENT)(remote.get)
app.command("put", rich_help_panel=_CLIENT)(remote.put)
app.command("delete", rich_help_panel=_CLIENT)(remote.delete)
app.command("restore", rich_help_panel=_CLIENT)(remote.restore)
app.command("versions", rich_help_panel=_CLIENT)(remote.versions)
app.command("list", rich_help_panel=_CLIENT)(remote.list_assets)
app.command("events", rich_help_panel=_CLIENT)(remote.events)
app.add_typer(search_app, name="search", rich_help_panel=_CLIENT)

app.command("ingest", rich_help_panel=_INGEST)(ingest.ingest)
app.add_typer(ingest.pipelines_app, name="pipelines", rich_help_panel=_INGEST)
app.command("connectors", rich_help_panel=_INGEST)(ingest.connectors)

app.add_typer(lineage_app, name="lineage", rich_help_panel="Lineage")
app.add_typer(quality.quality_app, name="quality", rich_help_panel="Data quality")


def _version(value: bool) -> None:
    if value:
        import lodestar

        typer.echo(f"lodestar {lodestar.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Lodestar: one catalog, API first, for every data asset's metadata.

    Settings come from LODESTAR_* variables or the file named by LODESTAR_CONFIG.
    """


def main() -> None:
    app()


if __name__ == "__main__":
    main()
