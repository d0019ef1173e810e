"""`lodestar demo`: a catalog of a realistic data stack, loaded in-process and served."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lodestar.cli.common import err, fail, load_settings, out, reported
from lodestar.cli.local import is_loopback, run_server

if TYPE_CHECKING:
    from lodestar.auth.tokens import TokenService
    from lodestar.catalog import Catalog, Outcome

TOKEN_NAME = "demo-admin"
TOKEN_FILE = "demo.token"
_DB_FILES = ("catalog.db", "catalog.db-wal", "catalog.db-shm", TOKEN_FILE, "admin.token")


def load_sample(catalog: Catalog) -> tuple[Counter[str], list[tuple[str, dict[str, Any], Outcome]]]:
    """Upsert the sample as the system: counts by outcome, and the lines that failed."""
    from lodestar.auth.principal import SYSTEM
    from lodestar.catalog import BulkLine, WriteContext
    from lodestar.demo.sample import sample_assets

    sample = sample_assets()
    outcomes = catalog.bulk_upsert(
        [BulkLine(k, b) for k, b in sample], WriteContext.for_principal(SYSTEM)
    )
    counts = Counter(str(o.status) for o in outcomes if o.error is None)
    return counts, [(*sample[o.index], o) for o in outcomes if o.error is not None]


def demo_token(tokens: TokenService, directory: Path) -> str:
    """The admin token kept in DIR/demo.token, issued when missing or no longer valid."""
    path = directory / TOKEN_FILE
    if path.is_file():
        kept = path.read_text().strip()
        principal = tokens.resolve(kept)
        if principal is not None and principal.is_admin:
            return kept
    taken = {t.name for t in tokens.list()}
    name, n = TOKEN_NAME, 1
    while name in taken:
        n += 1
        name = f"{TOKEN_NAME}-{n}"
    secret = tokens.issue(name, "admin")
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def _example_table() -> str:
    from lodestar.demo.sample import sample_assets
    from lodestar.model import fqn

    for kind, body in sample_assets():
        if kind == "table":
            return fqn.join([*fqn.split(body["schema"]), body["name"]])
    return "x"


def _show(base: str, token: str, token_file: Path, anonymous: bool, loaded: str) -> None:
    """The panel; as wide as its longest line, so the commands in it copy and paste whole."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    auth = f'-H "Authorization: Bearer {token}" '
    rows = [
        ("Open", f"{base}/ui/"),
        ("", "the web UI: log in with the token below to edit"),
        ("API", base),
        ("API docs", f"{base}/docs"),
        ("Token", token),
        ("", f"export LODESTAR_TOKEN=$(cat {token_file})"),
        ("Catalog", loaded),
        ("", ""),
        ("Try", f"curl -s {'' if anonymous else auth}'{base}/api/v1/tables?limit=5'"),
        ("", f"curl -s {auth}'{base}/api/v1/tables/name/{_example_table()}?fields=relations'"),
    ]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    for label, value in rows:
        grid.add_row(label, Text(value, style="bold green" if label == "Token" else ""))
    console = out()
    console.width = max(console.width, 16 + max(len(v) for _, v in rows))
    console.print(
        Panel(grid, title="Lodestar demo: Larkspur Home", title_align="left", expand=False)
    )


def demo(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8585,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the demo catalog lives (default: <data dir>/demo).",
            file_okay=False,
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start from an empty catalog and a new token.")
    ] = False,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Load the catalog and exit without serving.")
    ] = False,
) -> None:
    """Load a sample catalog (a home-goods retailer's data stack) and serve it."""
    with reported():
        directory = (data_dir or load_settings().data_dir / "demo").expanduser().resolve()
        if fresh:
            for name in _DB_FILES:
                (directory / name).unlink(missing_ok=True)
        anonymous = is_loopback(host)
        settings = load_settings(
            data_dir=directory,
            database_url=f"sqlite:///{directory / 'catalog.db'}",
            host=host,
            port=port,
            anonymous_read=anonymous,
        )
        from lodestar.auth.tokens import TokenService
        from lodestar.catalog import Catalog
        from lodestar.store import open_store

        store = open_store(settings.effective_database_url, settings.pool_size)
        try:
            counts, failed = load_sample(Catalog(store))
            if failed:
                kind, body, outcome = failed[0]
                assert outcome.error is not None
                fail(
                    f"{len(failed)} sample assets did not load; the first, {kind} "
                    f"{body.get('name')!r}: {outcome.error.detail}"
                )
            token = demo_token(TokenService(store), directory)
            total = sum(counts.values())
            loaded = (
                f"{total} assets: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged ({directory / 'catalog.db'})"
            )
            base = f"http://{host}:{port}"
            _show(base, token, directory / TOKEN_FILE, anonymous, loaded)
            if not anonymous:
                err().print(
                    f"{host} is not a loopback address: every request needs the token",
                    markup=False,
                )
            if no_serve:
                return
            run_server(settings, store)
        finally:
            store.dispose()
