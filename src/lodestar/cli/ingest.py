"""`lodestar ingest`, `lodestar pipelines ...` and `lodestar connectors`: run recipes and stored
pipelines against the configured catalog, with a live progress line and a closing report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lodestar.cli import remote
from lodestar.cli.common import echo_json, err, fail, load_settings, out, reported, usage

if TYPE_CHECKING:
    from lodestar.ingest.report import RunReport

pipelines_app = typer.Typer(help="Stored ingestion pipelines.", no_args_is_help=True)


def _show(report: RunReport, as_json: bool) -> None:
    if as_json:
        echo_json(report.to_dict())
        return
    from rich.table import Table

    colour = {"success": "green", "partial": "yellow", "failed": "red"}.get(report.status, "")
    title = f"{report.pipeline}: [{colour}]{report.status}[/] in {report.duration:.1f}s"
    if report.dry_run:
        title += " (dry run: nothing was written)"
    if report.resumed:
        title += f" (resumed; {report.units_resumed} units were already done)"
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for label, value in (
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("soft-deleted", report.deleted),
        ("units", report.units),
        ("units skipped (unchanged since last run)", report.units_skipped),
        ("  of them not read again (the source saw no change)", report.units_not_extracted),
        ("units failed", report.units_failed),
        ("observations", report.observations),
        ("lineage edges", report.lineage_edges),
        ("lineage edges removed (no longer reported)", report.lineage_removed),
        ("queries parsed (query logs)", report.queries),
    ):
        t.add_row(label, str(value))
    console = out()
    console.print(t)
    for w in report.would_delete:
        console.print(f"would delete: {w}", markup=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    for f in report.failures:
        console.print(f"[red]failed:[/] {f}", highlight=False)


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    status = None
    if enabled:  # --json needs no rich at all
        from rich.status import Status

        status = Status("starting", console=err())

    def update(report: RunReport) -> None:
        if status is not None:
            status.update(
                f"{report.units} units: {report.created} created, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.units_failed} failed"
            )

    return status, update


def ingest(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Take over the pipeline's last run even if its heartbeat is recent (it was "
            "killed moments ago); never while it really runs.",
        ),
    ] = False,
) -> None:
    """Run a recipe now and print its report (exit 1 when the run failed)."""
    with reported():
        from lodestar.ingest.errors import AlreadyRunning, ConfigError
        from lodestar.ingest.recipe import load_recipe
        from lodestar.ingest.service import run_recipe

        settings = load_settings()
        try:
            parsed = load_recipe(recipe)
        except ConfigError as e:
            usage(str(e))
        import yaml

        raw = yaml.safe_load(recipe.read_text())
        raw.pop("pipeline", None)
        status, update = _progress(not as_json)
        try:
            if status is not None:
                status.start()
            report = run_recipe(
                parsed, settings, dry_run=dry_run, progress=update, raw=raw, force=force
            )
        except AlreadyRunning as e:
            fail(str(e))
        except ConfigError as e:  # the recipe is wrong (its connector config...): nothing ran
            usage(str(e))
        finally:
            if status is not None:
                status.stop()
        _show(report, as_json)
        if report.status == "failed":
            raise typer.Exit(1)


@pipelines_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    on_server: Annotated[
        bool,
        typer.Option(
            "--on-server",
            help="Have the server at --url run it (in its scheduler, with its settings and "
            "secrets) instead of this process.",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With --on-server: wait for the report.")
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="With --on-server: seconds to wait.")
    ] = 3600,
    url: remote.Url = remote.DEFAULT_URL,
    token: remote.Token = None,
) -> None:
    """Run a stored pipeline now (as the scheduler would)."""
    if on_server:
        _run_on_server(name, as_json, wait, timeout, url, token)
        return
    with reported():
        from lodestar.catalog import Catalog
        from lodestar.ingest.errors import ConfigError
        from lodestar.ingest.service import run_stored
        from lodestar.store import open_store

        settings = load_settings()
        store = open_store(settings.effective_database_url, settings.pool_size)
        status, update = _progress(not as_json)
        try:
            if status is not None:
                status.start()
            report = run_stored(name, settings, Catalog(store), progress=update)
        except ConfigError as e:
            fail(str(e))
        finally:
            if status is not None:
                status.stop()
            store.dispose()
        _show(report, as_json)
        if report.status == "failed":
            raise typer.Exit(1)


def _run_on_server(
    name: str, as_json: bool, wait: bool, timeout: float, url: str, token: str | None
) -> None:
    import dataclasses
    import time

    from lodestar.client.errors import NotFound
    from lodestar.ingest.report import RunReport

    with reported(), remote.connect(url, token) as client:
        try:  # by id from here on: one look-up by name, not one per poll
            pipeline = client.pipeline_id(name)
        except NotFound:
            fail(
                f"{url} has no pipeline named {name!r}: run `lodestar ingest recipe.yml` "
                "against its catalog once to store it"
            )
        before = client.pipeline_runs(pipeline, 1)
        queued = client.run_pipeline(pipeline)
        if not wait:
            if as_json:
                echo_json(queued)
            else:
                out().print(f"{name}: queued on {url}; runs: {url}{queued['runs']}")
            return
        last = before[0]["id"] if before else None
        deadline = time.monotonic() + timeout
        status, _update = _progress(not as_json)
        try:
            if status is not None:
                status.start()
            while True:
                runs = client.pipeline_runs(pipeline, 1)
                if runs and runs[0]["id"] != last and runs[0]["status"] != "running":
                    break
                if time.monotonic() > deadline:
                    fail(
                        f"{name}: no finished run within {timeout:.0f} s; it may still run: "
                        f"see {url}{queued['runs']}"
                    )
                time.sleep(0.5)
        finally:
            if status is not None:
                status.stop()
        fields = {f.name for f in dataclasses.fields(RunReport)}
        report = RunReport(**{k: v for k, v in (runs[0]["report"] or {}).items() if k in fields})
        _show(report, as_json)
        if report.status == "failed":
            raise typer.Exit(1)


@pipelines_app.command("list")
def list_pipelines(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Stored pipelines with their owners, schedule, health and last run."""
    with reported():
        from lodestar.catalog import Catalog
        from lodestar.ingest.sinks import PIPELINE_KIND
        from lodestar.ingest.state import StateStore
        from lodestar.model.records import us_to_iso
        from lodestar.store import open_store

        settings = load_settings()
        store = open_store(settings.effective_database_url, settings.pool_size)
        try:
            rows = []
            state = StateStore(store)
            for a in Catalog(store).list_page(PIPELINE_KIND, limit=1000).items:
                last = state.recent(a.name, 1)
                rows.append(
                    {
                        "name": a.name,
                        "source": a.doc.get("recipe", {}).get("source", {}).get("type"),
                        "owners": [f"{o['kind']}:{o['fqn']}" for o in a.doc.get("owners", [])],
                        "schedule": a.doc.get("schedule"),
                        "enabled": a.doc.get("enabled", True),
                        "health": a.doc.get("health", "unknown"),
                        "last_run": us_to_iso(last[0]["started_at"]) if last else None,
                        "last_status": last[0]["status"] if last else None,
                    }
                )
        finally:
            store.dispose()
        if as_json:
            echo_json(rows)
            return
        from rich.table import Table

        t = Table("name", "source", "owners", "schedule", "health", "last run", "status")
        for r in rows:
            t.add_row(
                r["name"],
                str(r["source"]),
                ", ".join(r["owners"]) or "-",
                r["schedule"] or "-",
                r["health"],
                r["last_run"] or "-",
                r["last_status"] or "-",
            )
        out().print(t)


def connectors(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Installed connectors, and the extra that installs each missing one."""
    from dataclasses import asdict

    from lodestar.ingest.registry import connectors as listed

    rows = listed()
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    from rich.table import Table

    t = Table("connector", "available", "extra", "note")
    for r in rows:
        t.add_row(
            r.name, "yes" if r.available else "no", r.extra or "-", r.problem or r.description
        )
    out().print(t)
