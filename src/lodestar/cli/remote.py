"""Commands that talk to a running server through the SDK: get, put, delete, restore, versions,
list, events."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lodestar.cli.common import echo_json, err, fail, note, out, reported, usage

if TYPE_CHECKING:
    from lodestar.client import LodestarClient

DEFAULT_URL = "http://127.0.0.1:8585"

Url = Annotated[
    str,
    typer.Option("--url", envvar="LODESTAR_URL", help="The Lodestar server.", show_envvar=True),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="LODESTAR_TOKEN",
        help="Bearer token (`lodestar token create`).",
        show_envvar=True,
        show_default=False,
    ),
]
Kind = Annotated[str, typer.Argument(help="Asset kind: table, schema, pipeline, ...")]
FQN = Annotated[str, typer.Argument(help="Fully qualified name (or the asset's id).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print plain JSON for scripts.")]


def connect(url: str, token: str | None) -> LodestarClient:
    from lodestar.client import LodestarClient

    return LodestarClient(url, token)


def _key(fqn_or_id: str) -> dict[str, str]:
    from lodestar.client.http import looks_like_id

    return {"id": fqn_or_id} if looks_like_id(fqn_or_id) else {"fqn": fqn_or_id}


def get(
    kind: Kind,
    fqn: FQN,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Show this past version.")
    ] = None,
    fields: Annotated[
        str | None, typer.Option("--fields", help="Expand: children,relations,provenance.")
    ] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Show one asset."""
    from lodestar.cli import render

    with reported(), connect(url, token) as client:
        if version is not None:
            rec = client.version(kind, version, **_key(fqn))
            if as_json:
                echo_json(rec)
                return
            shown = {
                "id": rec["id"],
                "kind": rec["kind"],
                "fqn": rec["fqn"],
                **rec["doc"],
                "version": rec["version"],
                "deleted": rec["deleted"],
                "updated_at": rec["updated_at"],
                "updated_by": rec["updated_by"],
            }
            title = f"{rec['kind']} {rec['fqn']} as of version {rec['version']}"
            out().print(render.asset(shown, title))
            return
        doc = client.get(kind, fields=fields, **_key(fqn))
        if as_json:
            echo_json(doc)
        else:
            out().print(render.asset(doc))


def _read_documents(source: str) -> tuple[list[Any], bool]:
    """The documents of a file: one JSON object (single), or a JSON array or NDJSON (bulk)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        usage(f"cannot read {source}: {e}")
    if not text.strip():
        usage(f"{'stdin' if source == '-' else source} is empty: give a JSON object or NDJSON")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
        docs: list[Any] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as e:
                usage(f"line {n} of {source} is not JSON: {e.msg} (column {e.colno})")
        return docs, False
    if isinstance(value, dict):
        return [value], True
    if isinstance(value, list):
        return value, False
    usage(f"{source} holds a JSON {type(value).__name__}: give an object, an array or NDJSON")


def _outcome(asset: dict[str, Any]) -> str:
    if "change_description" not in asset:
        return "unchanged"
    return "created" if asset["version"] == 1 else "updated"


def put(
    file: Annotated[
        str,
        typer.Option("--file", "-f", help="JSON object, JSON array or NDJSON file; - for stdin."),
    ],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help='The kind, for documents without a "kind" field.'),
    ] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Create or update assets from a file (an array or NDJSON goes through bulk)."""
    from lodestar.cli import render

    docs, single = _read_documents(file)
    with reported(), connect(url, token) as client:
        if single:
            doc = docs[0]
            named = doc.get("kind")
            if kind and named and kind != named:
                usage(f'--kind {kind} but the document says "kind": {named!r}')
            which = kind or named
            if not isinstance(which, str):
                usage('the document has no "kind": add one, or pass --kind table (say)')
            body = {k: v for k, v in doc.items() if k != "kind"}
            asset = client.put(which, body)
            if as_json:
                echo_json(asset)
            else:
                what = f"{asset['kind']} {asset['fqn']} (version {asset['version']})"
                out().print(f"{_outcome(asset)} {what}", markup=False)
            return
        items = [
            {"kind": kind, **d} if isinstance(d, dict) and kind and "kind" not in d else d
            for d in docs
        ]
        statuses = client.bulk(items)
        failed = [s for s in statuses if s.get("result") == "error"]
        if as_json:
            echo_json(statuses)
        else:
            counts = {r: 0 for r in ("created", "updated", "unchanged")}
            for s in statuses:
                if s.get("result") in counts:
                    counts[s["result"]] += 1
            summary = ", ".join(f"{n} {r}" for r, n in counts.items())
            out().print(f"{len(statuses)} lines: {summary}, {len(failed)} failed", markup=False)
            if failed:
                err().print(render.bulk_failures(statuses, items))
        if failed:
            first = failed[0]
            detail = (first.get("error") or {}).get("detail", "")
            fail(f"{len(failed)} of {len(statuses)} lines failed; line {first['line']}: {detail}")


def delete(
    kind: Kind,
    fqn: FQN,
    hard: Annotated[
        bool, typer.Option("--hard", help="Erase it and its history for good.")
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", help="Also delete what it contains.")
    ] = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Delete an asset: soft by default (restore undoes it), --hard erases it."""
    with reported(), connect(url, token) as client:
        result = client.delete(kind, hard=hard, recursive=recursive, **_key(fqn))
        if as_json:
            echo_json(result if result is not None else {"deleted": True, "hard": True})
        elif result is None:
            out().print(f"erased {kind} {fqn}", markup=False)
        else:
            out().print(
                f"deleted {result['kind']} {result['fqn']} (version {result['version']}); "
                f"`lodestar restore {result['kind']} {result['fqn']}` undoes it",
                markup=False,
            )


def restore(
    kind: Kind,
    fqn: FQN,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Restore a soft-deleted asset and what it contained."""
    with reported(), connect(url, token) as client:
        key = _key(fqn)
        asset_id = key.get("id") or client.get(kind, fqn=fqn)["id"]
        result = client.restore(kind, asset_id)
        if as_json:
            echo_json(result)
        else:
            out().print(
                f"restored {result['kind']} {result['fqn']} (version {result['version']})",
                markup=False,
            )


def versions(
    kind: Kind, fqn: FQN, as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """The history of an asset, newest first."""
    from lodestar.cli import render

    with reported(), connect(url, token) as client:
        records = client.versions(kind, **_key(fqn))
        if as_json:
            echo_json(records)
        else:
            out().print(render.versions(kind, fqn, records))


def list_assets(
    kind: Kind,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Only what this FQN contains.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only assets with this tag.")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only assets owned by user:NAME or team:NAME.")
    ] = None,
    include: Annotated[
        str | None, typer.Option("--include", help="non-deleted (default), deleted or all.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Stop after this many.")
    ] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List the assets of a kind (every page)."""
    from lodestar.cli import render

    with reported(), connect(url, token) as client:
        found: list[dict[str, Any]] = []
        size = min(limit, 1000) if limit else 500
        pages = client.list(
            kind, parent=parent, tag=tag, owner=owner, include=include, page_size=size
        )
        for a in pages:
            found.append(a)
            if limit and len(found) >= limit:
                break
        if as_json:
            echo_json(found)
        else:
            out().print(render.assets(kind, found))


def events(
    after: Annotated[
        str, typer.Option("--after", help="Cursor: the last event seen; 0 from the start.")
    ] = "0",
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, max=1000, help="Events to show (100); with --follow, stop after."
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep waiting for new events (Ctrl-C stops).")
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.05, help="Seconds between polls with --follow.")
    ] = 2.0,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """The change feed: what changed, in order, after a cursor."""
    from lodestar.cli import render

    with reported(), connect(url, token) as client:
        if not follow:
            data, cursor = client.events(after, kind, limit or 100)
            if as_json:
                echo_json({"data": data, "paging": {"after": cursor}})
            else:
                out().print(render.events(data))
                note(f"next: lodestar events --after {cursor}")
            return
        console = out()
        seen = 0
        try:
            for e in client.follow_events(after, poll, kind):
                if as_json:
                    typer.echo(json.dumps(e, ensure_ascii=False))
                else:
                    console.print("  ".join(render.event_cells(e)), markup=False)
                sys.stdout.flush()
                seen += 1
                if limit is not None and seen >= limit:
                    break
        except KeyboardInterrupt:
            pass
