"""Change descriptions between two versions of a document, per-field provenance, and the rule
that automated writers never overwrite what a person set."""

from __future__ import annotations

from typing import Any

from lodestar.model.fqn import quote

# List fields whose items are identified by a name: diffed item by item, field by field.
NAMED_LISTS = {"columns": "name", "tasks": "name", "charts": "name", "features": "name"}
# Fields a person curates; an ingestion or integration write keeps a person's value.
CURATED = frozenset(
    {
        "description",
        "display_name",
        "owners",
        "tags",
        "glossary_terms",
        "domain",
        "links",
        "custom_properties",
    }
)
CURATED_ITEM = frozenset({"description", "display_name", "tags", "glossary_terms"})
_EMPTY: tuple[Any, ...] = (None, [], {}, "")


def _empty(v: Any) -> bool:
    return any(v is e or v == e for e in _EMPTY) and not isinstance(v, bool)


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """{fields_added, fields_updated, fields_deleted, breaking}; empty lists when equal."""
    added: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    deleted: list[dict[str, Any]] = []
    breaking: list[str] = []
    for key in sorted(old.keys() | new.keys()):
        o, n = old.get(key), new.get(key)
        if o == n or (_empty(o) and _empty(n)):
            continue
        if key in NAMED_LISTS and isinstance(o or [], list) and isinstance(n or [], list):
            _diff_named(key, NAMED_LISTS[key], o or [], n or [], added, updated, deleted, breaking)
        elif _empty(o):
            added.append({"name": key, "new": n})
        elif _empty(n):
            deleted.append({"name": key, "old": o})
        else:
            updated.append({"name": key, "old": o, "new": n})
    return {
        "fields_added": added,
        "fields_updated": updated,
        "fields_deleted": deleted,
        "breaking": breaking,
    }


def _diff_named(
    key: str,
    id_field: str,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    added: list[dict[str, Any]],
    updated: list[dict[str, Any]],
    deleted: list[dict[str, Any]],
    breaking: list[str],
) -> None:
    olds = {item[id_field]: item for item in old}
    news = {item[id_field]: item for item in new}
    for name, item in olds.items():
        if name not in news:
            deleted.append({"name": f"{key}.{quote(name)}", "old": item})
            if key == "columns":
                breaking.append(f"column {name!r} removed")
    for name, item in news.items():
        prev = olds.get(name)
        if prev is None:
            added.append({"name": f"{key}.{quote(name)}", "new": item})
            continue
        for field in sorted(prev.keys() | item.keys()):
            o, n = prev.get(field), item.get(field)
            if o == n or (_empty(o) and _empty(n)):
                continue
            path = f"{key}.{quote(name)}.{field}"
            if _empty(o):
                added.append({"name": path, "new": n})
            elif _empty(n):
                deleted.append({"name": path, "old": o})
            else:
                updated.append({"name": path, "old": o, "new": n})
            if key == "columns" and field == "data_type":
                breaking.append(f"column {name!r} type changed from {o} to {n}")


def is_empty_change(change: dict[str, Any]) -> bool:
    return not (change["fields_added"] or change["fields_updated"] or change["fields_deleted"])


def touched_paths(change: dict[str, Any]) -> list[str]:
    """Field paths the change set, including the curated fields inside added list items."""
    paths: list[str] = []
    for entry in change["fields_added"]:
        paths.append(entry["name"])
        new = entry["new"]
        if isinstance(new, dict) and entry["name"].split(".", 1)[0] in NAMED_LISTS:
            paths.extend(f"{entry['name']}.{f}" for f in CURATED_ITEM if not _empty(new.get(f)))
    paths.extend(e["name"] for e in change["fields_updated"])
    paths.extend(e["name"] for e in change["fields_deleted"])
    return paths


def record_provenance(
    provenance: dict[str, Any], change: dict[str, Any], origin: str, actor: str, ts: int
) -> dict[str, Any]:
    out = dict(provenance)
    stamp = {"origin": origin, "actor": actor, "at": ts}
    for path in touched_paths(change):
        out[path] = stamp
    return out


def _by_person(provenance: dict[str, Any], path: str) -> bool:
    p = provenance.get(path)
    return isinstance(p, dict) and str(p.get("origin", "")).startswith("person")


def keep_person_edits(
    old: dict[str, Any], new: dict[str, Any], provenance: dict[str, Any]
) -> dict[str, Any]:
    """`new` with every curated field a person set in `old` put back to the person's value."""
    out = dict(new)
    for field in CURATED:
        if _by_person(provenance, field):
            if field in old:
                out[field] = old[field]
            else:
                out.pop(field, None)
    for key, id_field in NAMED_LISTS.items():
        if key not in out or key not in old:
            continue
        olds = {item[id_field]: item for item in old[key]}
        items = []
        for item in out[key]:
            prev = olds.get(item[id_field])
            if prev is not None:
                base = f"{key}.{quote(item[id_field])}"
                for field in CURATED_ITEM:
                    if _by_person(provenance, f"{base}.{field}"):
                        item = dict(item)
                        if field in prev:
                            item[field] = prev[field]
                        else:
                            item.pop(field, None)
            items.append(item)
        out[key] = items
    return out
