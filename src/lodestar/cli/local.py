"""Commands that work on the configured database directly, no server needed: serve, db, token.

Heavy modules (uvicorn, FastAPI, SQLAlchemy) load inside the commands so `lodestar --help`
stays fast.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lodestar.cli.common import echo_json, err, load_settings, note, out, redact, reported

if TYPE_CHECKING:
    from lodestar.auth.tokens import TokenService
    from lodestar.settings import Settings
    from lodestar.store import Store

db_app = typer.Typer(
    help="The database schema: upgrade it, show its revision, rebuild derived indexes."
)
token_app = typer.Typer(help="API tokens, issued and revoked on the database directly.")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus Lodestar's own loggers (the scheduler's runs, start-up
    warnings) on the same stream, at `level`."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["lodestar"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def run_server(settings: Settings, store: Store) -> None:
    """Serve the API until Ctrl-C, on an already open store (the caller disposes it)."""
    import uvicorn

    from lodestar.api.app import create_app

    log_config = _log_config(settings.log_level)
    if settings.workers == 1:
        uvicorn.run(
            create_app(settings, store=store),
            host=settings.host,
            port=settings.port,
            log_config=log_config,
        )
        return
    # Several processes: each builds its app from the environment, so hand the resolved
    # settings down that way.
    import os

    for name, value in settings.model_dump(exclude_none=True).items():
        os.environ[f"LODESTAR_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    uvicorn.run(
        "lodestar.api.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=log_config,
    )


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port to listen on (8585).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, max=64, help="Server processes (1).")
    ] = None,
) -> None:
    """Run the API server on the configured database (migrated on start)."""
    with reported():
        settings = load_settings(host=host, port=port, workers=workers)
        from lodestar.auth.tokens import TokenService
        from lodestar.store import open_store

        url = settings.effective_database_url
        store = open_store(url, settings.pool_size)
        try:
            first = TokenService(store).ensure_admin(settings.data_dir)
            base = f"http://{settings.host}:{settings.port}"
            console = err()
            console.print(f"Lodestar on [bold]{base}[/] (API docs {base}/docs)")
            console.print(f"database: {redact(url)}", markup=False)
            if first is not None:
                console.print(
                    f"[bold]first start:[/] an admin token was written to {first[0]} "
                    f"(use it with: export LODESTAR_TOKEN=$(cat {first[0]}))"
                )
            elif (settings.data_dir / "admin.token").is_file():
                console.print(f"admin token: {settings.data_dir / 'admin.token'}", markup=False)
            if settings.anonymous_read:
                console.print("anonymous reads are on", markup=False)
            run_server(settings, store)
        finally:
            store.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the configured database to the latest schema; prints the revision."""
    with reported():
        settings = load_settings()
        from lodestar.store import migrate
        from lodestar.store.engine import make_engine

        url = settings.effective_database_url
        engine = make_engine(url, 1)
        try:
            before = migrate.current(engine)
            migrate.upgrade(engine)
            after = migrate.current(engine)
        finally:
            engine.dispose()
        if before == after:
            note(f"{redact(url)} is up to date")
        else:
            note(f"{redact(url)} upgraded from {before or 'an empty database'}")
        typer.echo(after)


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision ("none" before the first upgrade)."""
    with reported():
        settings = load_settings()
        from lodestar.store import migrate
        from lodestar.store.engine import make_engine

        url = settings.effective_database_url
        engine = make_engine(url, 1)
        try:
            rev = migrate.current(engine)
        finally:
            engine.dispose()
        head = migrate.head()
        if rev != head:
            note(f"{redact(url)} is behind: the latest is {head}; run `lodestar db upgrade`")
        typer.echo(rev or "none")


@db_app.command("check")
def db_check() -> None:
    """Look for credentials kept in clear in service connections and pipeline recipes (their
    current bodies, versions and events); exit 1 when there are any. Says where, never the
    value: rewrite each with a ${LODESTAR_SECRET_...} reference."""
    with reported():
        settings = load_settings()
        from lodestar.catalog.audit import clear_secrets
        from lodestar.store import open_store

        store = open_store(settings.effective_database_url, 1)
        try:
            found = clear_secrets(store)
        finally:
            store.dispose()
        for where in found:
            typer.echo(where)
        if found:
            note(
                f"{len(found)} stored documents hold a credential in clear: store "
                "${LODESTAR_SECRET_...} references instead (versions and events keep the old "
                "values until erased)"
            )
            raise typer.Exit(1)
        typer.echo("no credential in clear found")


@db_app.command("reindex")
def db_reindex(
    name: Annotated[
        str | None, typer.Argument(help="One derived writer (default: every registered one).")
    ] = None,
) -> None:
    """Rebuild derived indexes (search documents, graph indexes...) from the stored assets and
    edges, a page at a time; safe to run while the server serves."""
    with reported():
        settings = load_settings()
        from rich.progress import Progress, TaskID

        from lodestar.catalog import derived
        from lodestar.store import open_store

        chosen = [derived.find(name)] if name else derived.writers()
        if not chosen:
            note("no derived writer is registered: nothing to rebuild")
            return
        store = open_store(settings.effective_database_url, 1)
        try:
            for writer in chosen:
                with Progress(transient=True) as bar:
                    task = bar.add_task(writer.name, total=None)

                    def step(
                        done: int, total: int, task: TaskID = task, bar: Progress = bar
                    ) -> None:
                        bar.update(task, completed=done, total=total)

                    fed = derived.rebuild(store, writer, step)
                typer.echo(f"{writer.name}: rebuilt from {fed} assets")
        finally:
            store.dispose()


@contextmanager
def _token_service() -> Iterator[TokenService]:
    settings = load_settings()
    from lodestar.auth.tokens import TokenService
    from lodestar.store import open_store

    store = open_store(settings.effective_database_url, 1)
    try:
        yield TokenService(store)
    finally:
        store.dispose()


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="admin, steward, editor, viewer or bot.")],
    name: Annotated[str, typer.Option("--name", help="A unique name for the token.")],
    user: Annotated[
        str | None, typer.Option("--user", help="The user an editor token acts as.")
    ] = None,
    ttl_days: Annotated[
        int | None, typer.Option("--ttl-days", min=1, max=3650, help="Expire after N days.")
    ] = None,
) -> None:
    """Issue a token. Only the token goes to stdout: `export LODESTAR_TOKEN=$(lodestar ...)`."""
    with reported(), _token_service() as tokens:
        secret = tokens.issue(name, role, user=user, ttl_days=ttl_days)
        note(f"issued {role} token {name!r}; it is shown only this once")
        typer.echo(secret)


@token_app.command("list")
def token_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print plain JSON.")] = False,
) -> None:
    """List tokens (never their secrets)."""
    from dataclasses import asdict

    from rich.table import Table

    with reported(), _token_service() as service:
        tokens = service.list()
        if as_json:
            echo_json([asdict(t) for t in tokens])
            return
        table = Table(title=f"{len(tokens)} tokens", title_justify="left")
        for col in ("name", "role", "user", "created", "expires", "state"):
            table.add_column(col)
        for t in tokens:
            state = "revoked" if t.revoked else "active"
            table.add_row(
                t.name, t.role, t.user or "", t.created_at[:19], (t.expires_at or "")[:19], state
            )
        out().print(table)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token; requests with it fail from then on."""
    with reported(), _token_service() as tokens:
        tokens.revoke(name)
        note(f"revoked token {name!r}")
