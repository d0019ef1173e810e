"""`lodestar ingest`, `lodestar pipelines ...` and `lodestar connectors`: run recipes and stored
pipelines against the configured catalog, with a live progress line and a closing report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
) -> None:
    """Run a recipe now and print its report (exit 1 when the run failed)."""
    with reported():
        from lodestar.ingest.errors import ConfigError
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
            report = run_recipe(parsed, settings, dry_run=dry_run, progress=update, raw=raw)
        except ConfigError as e:
            fail(str(e))
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
) -> None:
    """Run a stored pipeline now (as the scheduler would)."""
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
