"""`lodestar quality ...`: apply checks files, run tests, show status, wait for readiness.

`apply`, `run` and `status` work on the configured catalog in this process (as `lodestar
ingest` does) and reach the data with this process's environment; `wait` asks a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lodestar.cli import remote
from lodestar.cli.common import EXIT_USAGE, echo_json, fail, load_settings, out, reported, usage

if TYPE_CHECKING:
    from lodestar.catalog import Catalog
    from lodestar.store import Store

quality_app = typer.Typer(
    help="Data quality: tests, runs, status, readiness.", no_args_is_help=True
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
KindOpt = Annotated[str, typer.Option("--kind", help="The asset's kind.")]


def _open() -> tuple[Store, Catalog]:
    from lodestar.catalog import Catalog
    from lodestar.store import open_store

    settings = load_settings()
    store = open_store(settings.effective_database_url, settings.pool_size)
    return store, Catalog(store)


@quality_app.command("apply")
def apply(
    path: Annotated[Path, typer.Argument(help="Checks file (YAML).")],
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Delete the tests of the file's tables that it no longer lists."
        ),
    ] = False,
    connect: Annotated[
        bool,
        typer.Option("--connect/--no-connect", help="Check that each table's database answers."),
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Create or update the test cases a checks file describes (idempotent)."""
    with reported():
        import getpass

        import yaml

        from lodestar.auth.principal import Principal
        from lodestar.catalog import InvalidInput, WriteContext
        from lodestar.quality import checks

        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            usage(f"cannot read {path}: {e}")
        store, catalog = _open()
        try:
            ctx = WriteContext.for_principal(Principal(getpass.getuser() or "cli", "admin"))
            try:
                report = checks.apply(catalog, document, ctx, prune=prune, connect=connect)
            except InvalidInput as e:
                for problem in e.errors or [{"loc": [], "msg": e.detail}]:
                    loc = checks.where(problem["loc"])
                    typer.echo(
                        f"error: {path}: {loc + ': ' if loc else ''}{problem['msg']}", err=True
                    )
                typer.echo("nothing was applied", err=True)
                raise typer.Exit(EXIT_USAGE) from None
        finally:
            store.dispose()
        if as_json:
            echo_json(report.to_dict())
            return
        counts = {k: len(v) for k, v in report.to_dict().items()}
        typer.echo(", ".join(f"{n} {k}" for k, n in counts.items()))
        for what in ("created", "updated", "deleted"):
            for fqn in getattr(report, what):
                typer.echo(f"  {what}: {fqn}")


@quality_app.command("run")
def run(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Tables or test cases (FQNs); none: every enabled test."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run tests in each table's own database and record the results (exit 1 when a
    blocking test failed or errored)."""
    with reported():
        from lodestar.quality.runner import Runner

        store, catalog = _open()
        try:
            runs = Runner(catalog).run(targets or None)
        finally:
            store.dispose()
        results = [r for t in runs for r in t.results]
        if as_json:
            echo_json([r.to_json() for r in results])
        else:
            _print_results(results)
        if any(r.blocking_failure for r in results):
            raise typer.Exit(1)


def _print_results(results: list[Any]) -> None:
    from rich.table import Table

    colour = {"passed": "green", "failed": "red", "error": "magenta"}
    t = Table(show_lines=False, title_justify="left")
    for col in ("table", "test", "status", "value", "expected", "ms"):
        t.add_column(col, justify="right" if col in ("value", "ms") else "left")
    for r in results:
        c = r.case
        lo, hi = r.expected_min, r.expected_max
        expected = "" if lo is None and hi is None else f"[{_n(lo)}, {_n(hi)}]"
        status = r.status if r.case.severity == "blocking" else f"{r.status} (warning)"
        t.add_row(
            c.table,
            c.name,
            f"[{colour[r.status]}]{status}[/]",
            _n(r.value),
            expected,
            f"{r.duration_ms:.0f}",
        )
    console = out()
    console.print(t)
    for r in results:
        if r.message and r.status != "passed":
            console.print(f"{r.case.name}: {r.message}", markup=False)
    failed = sum(r.status == "failed" for r in results)
    errors = sum(r.status == "error" for r in results)
    console.print(
        f"{len(results)} tests: {len(results) - failed - errors} passed, "
        f"{failed} failed, {errors} errors"
    )


def _n(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"


@quality_app.command("status")
def status(
    fqn: Annotated[str, typer.Argument(help="The asset's FQN.")],
    kind: KindOpt = "table",
    as_json: AsJson = False,
) -> None:
    """An asset's quality status and its tests' latest results."""
    with reported():
        from lodestar.quality import service

        store, catalog = _open()
        try:
            answer = service.status(catalog, kind, fqn)
        finally:
            store.dispose()
        if as_json:
            echo_json(answer)
            return
        typer.echo(f"{answer['fqn']}: {answer['status']}")
        for t in answer["tests"]:
            stale = f" (stale: {t['stale']})" if t["stale"] else ""
            line = f"  {t['name']}: {t['status']} value={_n(t['value'])}"
            typer.echo(f"{line} last_run={t['last_run']}{stale}")


@quality_app.command("wait")
def wait(
    fqn: Annotated[str, typer.Argument(help="The asset's FQN.")],
    timeout: Annotated[str, typer.Option("--timeout", help="Give up after: `1h`, `30m`.")] = "1h",
    interval: Annotated[str, typer.Option("--interval", help="Ask again every: `30s`.")] = "30s",
    kind: KindOpt = "table",
    url: remote.Url = remote.DEFAULT_URL,
    token: remote.Token = None,
) -> None:
    """Block until the asset and everything upstream of it is fresh and passing (exit 0), or
    fail with the reasons when the timeout passes (exit 1)."""
    from lodestar.model.test_types import duration_s

    try:
        timeout_s, interval_s = duration_s(timeout), duration_s(interval)
    except ValueError as e:
        usage(str(e))
    with reported(), remote.connect(url, token) as client:
        from lodestar.client.errors import NotReady

        try:
            answer = client.wait_ready(kind, fqn, timeout=timeout_s, interval=interval_s)
        except NotReady as e:
            fail(f"not ready after {timeout}: {e.detail}")
        typer.echo(f"{answer['fqn']}: ready")


@quality_app.command("types")
def types(as_json: AsJson = False) -> None:
    """The test library: each test type, its level, parameters and column types."""
    from lodestar.quality.service import library

    lib = library()
    if as_json:
        echo_json(lib)
        return
    for t in lib:
        params = ", ".join(f"{k}{'' if v['required'] else '?'}" for k, v in t["parameters"].items())
        applies = f" [{', '.join(t['applies_to'])}]" if t["applies_to"] else ""
        out().print(f"{t['name']} ({t['level']}{applies}): {params}", markup=False)
        out().print(f"    {t['description']}", markup=False)
