"""What every command shares: consoles, settings, JSON output, and failures as exit codes.

Exit codes: 0 done, 1 the request failed (the server or the database said no), 2 the command
was used wrongly (bad option, unreadable input, invalid settings).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from lodestar.settings import Settings

EXIT_FAILED = 1
EXIT_USAGE = 2


def out() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def note(message: str) -> None:
    """A line for the person at the terminal, on stderr, so stdout stays clean for scripts."""
    typer.echo(message, err=True)


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


def _classify(e: Exception) -> tuple[int, str] | None:
    # Look the error types up only in modules already loaded: an error cannot come from a
    # module that was never imported, and the lookup must not slow the happy path.
    client = sys.modules.get("lodestar.client.errors")
    if client is not None and isinstance(e, client.UnknownKind):
        return EXIT_USAGE, e.detail
    if client is not None and isinstance(e, client.LodestarError):
        return EXIT_FAILED, str(e)
    settings = sys.modules.get("lodestar.settings")
    if settings is not None and isinstance(e, settings.SettingsError):
        return EXIT_USAGE, str(e)
    catalog = sys.modules.get("lodestar.catalog.errors")
    if catalog is not None and isinstance(e, catalog.CatalogError):
        return EXIT_FAILED, e.detail
    if "sqlalchemy.exc" in sys.modules:  # the store words what went wrong with a database
        from lodestar.store.engine import database_failure

        said = database_failure(e)
        if said is not None:
            return EXIT_FAILED, said
    return None


@contextmanager
def reported() -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as e:
        found = _classify(e)
        if found is None:
            raise
        fail(found[1], found[0])


def load_settings(**overrides: Any) -> Settings:
    """Settings from LODESTAR_CONFIG and LODESTAR_* (raises SettingsError; see `reported`)."""
    from lodestar.settings import load_settings as load

    return load(**overrides)


def redact(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    from lodestar.store.engine import redacted

    return redacted(url)
