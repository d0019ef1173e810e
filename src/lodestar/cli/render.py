"""Human output: assets, lists, versions and events as Rich panels and tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

_HIDDEN = {"id", "kind", "fqn", "name", "href", "change_description", "doc"}
_META = ("version", "deleted", "created_at", "updated_at", "updated_by")
_MAX_CELL = 100


def _ref(value: dict[str, Any]) -> str:
    return f"{value.get('kind', '?')}:{value['fqn']}" if "kind" in value else str(value["fqn"])


def cell(value: Any) -> str:
    """A value as one short line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        text = str(value)
    elif isinstance(value, dict) and "fqn" in value:
        text = _ref(value)
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, list) and all(isinstance(v, dict) and "fqn" in v for v in value):
        text = ", ".join(_ref(v) for v in value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and "name" in v for v in value)
        and not all("fqn" in v for v in value)
    )


def _items_table(title: str, items: list[dict[str, Any]]) -> Table:
    keys: list[str] = ["name"]
    for item in items:
        for k, v in item.items():
            if k not in keys and v not in (None, [], {}, ""):
                keys.append(k)
    table = Table(title=title, title_justify="left", show_lines=False)
    for k in keys[:6]:
        table.add_column(k)
    for item in items:
        table.add_row(*(escape(cell(item.get(k))) for k in keys[:6]))
    return table


def asset(doc: dict[str, Any], title: str | None = None) -> RenderableType:
    """One asset: its fields in a grid, its named lists (columns, tasks, ...) as tables."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("id", escape(str(doc.get("id", ""))))
    lists: list[Table] = []
    for key, value in doc.items():
        if key in _HIDDEN or key in _META or value in (None, [], {}, ""):
            continue
        if _named_list(value):
            lists.append(_items_table(key, value))
        else:
            grid.add_row(key, escape(cell(value)))
    for key in _META:
        if key in doc:
            grid.add_row(key, escape(cell(doc[key])))
    heading = title or f"{doc.get('kind', 'asset')} {doc.get('fqn', '')}"
    return Group(Panel(grid, title=escape(heading), title_align="left", expand=False), *lists)


def assets(kind: str, items: Sequence[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(items)} {kind}", title_justify="left")
    table.add_column("fqn", overflow="fold")
    table.add_column("version", justify="right")
    table.add_column("updated", no_wrap=True)
    table.add_column("description")
    for a in items:
        desc = (a.get("description") or "").strip().splitlines()
        fqn = a["fqn"] + (" (deleted)" if a.get("deleted") else "")
        table.add_row(
            escape(fqn),
            str(a["version"]),
            a.get("updated_at", "")[:19].replace("T", " "),
            escape(cell(desc[:1])),
        )
    return table


def change_summary(change: dict[str, Any] | None) -> str:
    """`+added ~updated -deleted`, breaking changes called out."""
    if not change:
        return ""
    parts = [f"+{c['name']}" for c in change.get("fields_added", [])]
    parts += [f"~{c['name']}" for c in change.get("fields_updated", [])]
    parts += [f"-{c['name']}" for c in change.get("fields_deleted", [])]
    text = " ".join(parts)
    breaking = change.get("breaking") or []
    if breaking:
        text += "  BREAKING: " + "; ".join(str(b) for b in breaking)
    return text


def versions(kind: str, fqn: str, records: Iterable[dict[str, Any]]) -> Table:
    table = Table(title=f"versions of {kind} {escape(fqn)}", title_justify="left")
    table.add_column("version", justify="right")
    table.add_column("updated", no_wrap=True)
    table.add_column("by")
    table.add_column("origin")
    table.add_column("change")
    for v in records:
        change = change_summary(v.get("change_description"))
        if v.get("deleted"):
            change = ("deleted " + change).strip()
        table.add_row(
            str(v["version"]),
            v.get("updated_at", "")[:19].replace("T", " "),
            escape(str(v.get("updated_by") or "")),
            escape(str(v.get("origin") or "")),
            escape(change),
        )
    return table


def events(items: Sequence[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(items)} events", title_justify="left")
    for name in ("cursor", "time", "event", "kind", "fqn", "version", "actor"):
        table.add_column(name, overflow="fold", no_wrap=name in ("cursor", "time", "version"))
    for e in items:
        table.add_row(*(escape(x) for x in event_cells(e)))
    return table


def event_cells(e: dict[str, Any]) -> list[str]:
    return [
        str(e["cursor"]),
        str(e.get("ts", ""))[:19].replace("T", " "),
        str(e["event_type"]).removeprefix("entity_"),
        str(e.get("kind", "")),
        str(e.get("fqn", "")),
        str(e.get("version", "")),
        str(e.get("actor", "")),
    ]


def bulk_failures(statuses: Sequence[dict[str, Any]], docs: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="failed lines", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("asset")
    table.add_column("status", justify="right")
    table.add_column("problem")
    for s in statuses:
        if s.get("result") != "error":
            continue
        n = int(s["line"])
        doc = docs[n - 1] if 0 < n <= len(docs) else {}
        what = f"{doc.get('kind', '?')} {doc.get('name', '?')}"
        detail = str((s.get("error") or {}).get("detail", ""))
        table.add_row(str(n), escape(what), str(s.get("status", "")), escape(detail))
    return table


def search_hits(page: dict[str, Any]) -> Table:
    """Search hits: kind, FQN, score, the columns that matched, the description's start."""
    hits = page.get("data", [])
    total = page.get("paging", {}).get("total", len(hits))
    table = Table(title=f"{len(hits)} of {total} matches", title_justify="left")
    for header in ("kind", "fqn", "score", "matched columns", "description"):
        table.add_column(header, overflow="fold")
    for h in hits:
        description = (h.get("description") or "").split("\n", 1)[0]
        table.add_row(
            h["kind"],
            h["fqn"],
            f"{h['score']:.2f}",
            ", ".join(h.get("matched_columns", [])),
            description[:80] + ("…" if len(description) > 80 else ""),
        )
    return table
