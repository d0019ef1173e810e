"""What the pages show, gathered from the catalog's services: no SQL here, no HTML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lodestar.catalog import Catalog, InvalidInput, Key, NotFound
from lodestar.catalog.changes import diff
from lodestar.ingest.connectors.sample_data import MASK, looks_personal
from lodestar.model import fqn as fqn_mod
from lodestar.model.records import Asset, Event, VersionRecord
from lodestar.model.registry import all_kinds
from lodestar.ui.extensions import Hit, search_provider

# Kinds a person looks for, in the order the name lookup tries them (one list query each).
DATA_KINDS = ("table", "dashboard", "pipeline", "topic", "ml_model", "container", "glossary_term")
# Tags that mark a column's sample values as not to be shown.
SENSITIVE_TAGS = ("PII.Sensitive",)


def search(catalog: Catalog, query: str, limit: int = 25) -> tuple[list[Hit], str]:
    """Hits for the home page's box, and how they were found: the installed search capability,
    else an FQN prefix lookup through the catalog's lists."""
    query = query.strip()
    if not query:
        return [], ""
    provider = search_provider()
    if provider is not None:
        return provider.search(catalog, query, limit), "search"
    return prefix_lookup(catalog, query, limit), "prefix"


def prefix_lookup(catalog: Catalog, prefix: str, limit: int) -> list[Hit]:
    """Assets whose FQN starts with `prefix` (case as stored), by kind."""
    hits: list[Hit] = []
    start = _before(prefix)
    for kind in DATA_KINDS:
        try:
            page = catalog.list_page(kind, limit=limit, after=start)
        except InvalidInput:
            continue
        for a in page.items:
            if a.fqn.startswith(prefix):
                hits.append(_hit(a))
        if len(hits) >= limit:
            break
    return hits[:limit]


def _before(prefix: str) -> str:
    """A cursor that sorts just before every FQN starting with `prefix`."""
    last = prefix[-1]
    return prefix[:-1] + (chr(ord(last) - 1) + "\U0010ffff" if ord(last) > 0x20 else "")


def _hit(a: Asset) -> Hit:
    return Hit(a.kind, a.fqn, a.doc.get("display_name") or a.name, a.doc.get("description") or "")


def recent_changes(catalog: Catalog, limit: int = 15) -> list[Event]:
    last = catalog.last_event()
    events = catalog.events(after=max(0, last - limit * 4), limit=limit * 4)
    seen: set[tuple[str, str]] = set()
    out: list[Event] = []
    for e in reversed(events):
        if (e.asset_kind, e.asset_id) in seen:
            continue
        seen.add((e.asset_kind, e.asset_id))
        out.append(e)
        if len(out) >= limit:
            break
    return out


def owned_by(catalog: Catalog, owner: str, limit: int = 50) -> list[Asset]:
    """Assets a user or team (`user:<name>`, `team:<name>`) owns, by kind."""
    out: list[Asset] = []
    for kind in (k.name for k in all_kinds()):
        if kind in ("user", "team"):
            continue
        out.extend(catalog.list_page(kind, owner=owner, limit=limit).items)
        if len(out) >= limit:
            break
    return out[:limit]


def asset_by_fqn(catalog: Catalog, kind: str, fqn: str) -> Asset:
    try:
        return catalog.get(kind, Key(fqn=fqn))
    except KeyError:
        raise NotFound(f"no kind of asset named {kind!r}") from None


@dataclass(frozen=True, slots=True)
class Sample:
    columns: list[str]
    rows: list[list[Any]]
    masked: list[str]


def sample(asset: Asset) -> Sample | None:
    """The stored sample rows with sensitive columns masked: those tagged sensitive, and those
    whose name looks personal (as the connectors mask them when they read samples)."""
    data = asset.doc.get("sample_data")
    if not data:
        return None
    sensitive = {
        c["name"]
        for c in asset.doc.get("columns", [])
        if any(t in SENSITIVE_TAGS for t in c.get("tags", []))
    }
    cols: list[str] = data.get("columns", [])
    hide = [c in sensitive or looks_personal(c) for c in cols]
    rows = [[MASK if h else v for v, h in zip(row, hide, strict=False)] for row in data["rows"]]
    return Sample(cols, rows, [c for c, h in zip(cols, hide, strict=True) if h])


def keys_of(asset: Asset) -> dict[str, list[str]]:
    """Each column's keys and constraints, from the column and the table's constraints."""
    out: dict[str, list[str]] = {}
    for c in asset.doc.get("columns", []):
        if c.get("constraint"):
            out.setdefault(c["name"], []).append(c["constraint"].replace("_", " "))
    for con in asset.doc.get("constraints", []):
        label = con["type"].replace("_", " ")
        if con["type"] == "foreign_key" and con.get("referred_table"):
            label += " → " + con["referred_table"]
        for name in con.get("columns", []):
            if label not in out.setdefault(name, []):
                out[name].append(label)
    return out


def version_diff(
    catalog: Catalog, asset: Asset, old: int, new: int
) -> tuple[VersionRecord, VersionRecord, dict[str, Any]]:
    a = catalog.version(asset.kind, Key(id=asset.id), old)
    b = catalog.version(asset.kind, Key(id=asset.id), new)
    return a, b, diff(a.doc, b.doc)


def changed_since(
    catalog: Catalog, asset: Asset, since: int, fields: tuple[str, ...]
) -> list[tuple[VersionRecord, list[str]]]:
    """The versions after `since`, each with which of `fields` it changed."""
    out: list[tuple[VersionRecord, list[str]]] = []
    for rec in sorted(catalog.versions(asset.kind, Key(id=asset.id)), key=lambda v: v.version):
        if rec.version <= since:
            continue
        names = {
            item["name"].split(".", 1)[0]
            for part in ("fields_added", "fields_updated", "fields_deleted")
            for item in (rec.change or {}).get(part, [])
        }
        out.append((rec, sorted(n for n in names if n in fields)))
    return out


def parse_refs(text: str) -> list[str]:
    """FQNs one per line or comma-separated, normalised; InvalidInput names a bad one."""
    out: list[str] = []
    for raw in text.replace(",", "\n").splitlines():
        item = raw.strip()
        if not item:
            continue
        try:
            norm = fqn_mod.normalize(item)
        except fqn_mod.FQNError as e:
            raise InvalidInput(f"{item!r} is not a name: {e}") from None
        if norm not in out:
            out.append(norm)
    return out


def parse_owners(text: str) -> list[dict[str, str]]:
    """Owners as `user:name` or `team:name`, one per line or comma-separated."""
    out: list[dict[str, str]] = []
    for raw in text.replace(",", "\n").splitlines():
        item = raw.strip()
        if not item:
            continue
        kind, sep, name = item.partition(":")
        if not sep or kind.strip() not in ("user", "team") or not name.strip():
            raise InvalidInput(f"owner {item!r}: write user:<name> or team:<name>")
        ref = {"kind": kind.strip(), "fqn": name.strip()}
        if ref not in out:
            out.append(ref)
    return out
