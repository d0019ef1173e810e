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


def _empty(v: Any) -> bool:
    """None, "", [] or {}: a field that holds nothing (False and 0 are values)."""
    return v is None or (not v and isinstance(v, str | list | dict))


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """{fields_added, fields_updated, fields_deleted, breaking}; empty lists when equal."""
    added: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    deleted: list[dict[str, Any]] = []
    breaking: list[str] = []
    if old == new:  # the common case of a re-ingested asset, compared in C
        return {"fields_added": [], "fields_updated": [], "fields_deleted": [], "breaking": []}
    for key in sorted(old.keys() | new.keys()):
        o, n = old.get(key), new.get(key)
        if o == n or (_empty(o) and _empty(n)):
            continue
        if key in NAMED_LISTS and isinstance(o, list) and isinstance(n, list):
            _diff_named(key, NAMED_LISTS[key], o, n, added, updated, deleted, breaking)
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


def creation(doc: dict[str, Any]) -> dict[str, Any]:
    """The change description of version 1: the fields it set (their values are the doc)."""
    return {
        "fields_added": [{"name": k} for k in sorted(doc) if not _empty(doc[k])],
        "fields_updated": [],
        "fields_deleted": [],
        "breaking": [],
    }


def is_empty_change(change: dict[str, Any]) -> bool:
    return not (change["fields_added"] or change["fields_updated"] or change["fields_deleted"])


def touched_paths(
    change: dict[str, Any], expand: bool, doc: dict[str, Any] | None = None
) -> list[str]:
    """Field paths the change set. With `expand`, also the curated fields inside each list item
    it added (a column a person adds carries that person's description and tags)."""
    paths: list[str] = []
    for entry in change["fields_added"]:
        name = entry["name"]
        paths.append(name)
        if not expand:
            continue
        head = name.split(".", 1)[0]
        if head not in NAMED_LISTS:
            continue
        new = entry.get("new", doc.get(head) if doc is not None else None)
        items = new if isinstance(new, list) and name == head else [new]
        id_field = NAMED_LISTS[head]
        for item in items:
            if not isinstance(item, dict):
                continue
            base = name if name != head else f"{head}.{quote(item[id_field])}"
            if base != name:
                paths.append(base)
            # Inlined `not _empty(...)`: a table a person creates has this loop run for every
            # curated field of every column, the bulk of a bulk create's provenance.
            for f in CURATED_ITEM:
                v = item.get(f)
                if v or (v is not None and not isinstance(v, str | list | dict)):
                    paths.append(f"{base}.{f}")
    paths.extend(e["name"] for e in change["fields_updated"])
    paths.extend(e["name"] for e in change["fields_deleted"])
    return paths


def record_provenance(
    provenance: dict[str, Any],
    change: dict[str, Any],
    origin: str,
    actor: str,
    ts: int,
    doc: dict[str, Any] | None = None,
    rank: int = 0,
) -> dict[str, Any]:
    out = dict(provenance)
    stamp: dict[str, Any] = {"origin": origin, "actor": actor, "at": ts}
    if rank:
        stamp["rank"] = rank
    out.update(dict.fromkeys(touched_paths(change, origin.startswith("person"), doc), stamp))
    return out


def _by_person(provenance: dict[str, Any], path: str) -> bool:
    p = provenance.get(path)
    return isinstance(p, dict) and str(p.get("origin", "")).startswith("person")


def keep_person_edits(
    old: dict[str, Any], new: dict[str, Any], provenance: dict[str, Any]
) -> dict[str, Any]:
    """`new` with every curated field a person set in `old` put back to the person's value."""
    mine = [p for p in provenance if _by_person(provenance, p)]
    if not mine:
        return new
    out = dict(new)
    for field in CURATED:
        if field in mine:
            if field in old:
                out[field] = old[field]
            else:
                out.pop(field, None)
    item_paths = [p for p in mine if p.split(".", 1)[0] in NAMED_LISTS and p.count(".") >= 2]
    if not item_paths:
        return out
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
                    if f"{base}.{field}" in provenance and _by_person(
                        provenance, f"{base}.{field}"
                    ):
                        item = dict(item)
                        if field in prev:
                            item[field] = prev[field]
                        else:
                            item.pop(field, None)
            items.append(item)
        out[key] = items
    return out


def _owner(provenance: dict[str, Any], path: str) -> str | None:
    """The origin that last set `path`, or the closest enclosing path that was recorded."""
    while True:
        p = provenance.get(path)
        if isinstance(p, dict):
            return str(p.get("origin", ""))
        if "." not in path:
            return None
        path = path.rsplit(".", 1)[0]


def keep_other_origins(
    old: dict[str, Any], new: dict[str, Any], provenance: dict[str, Any], origin: str
) -> dict[str, Any]:
    """For an automated writer: enrich, never erase. A field or list item that another origin
    set and this body leaves out or empty is kept, so a database connector and dbt can both
    describe the same table (the last one to write a value still wins that value)."""

    if provenance and all(
        isinstance(p, dict) and p.get("origin") == origin for p in provenance.values()
    ):
        return new  # this writer set everything there is: nothing of anyone else's to keep

    def others(path: str) -> bool:
        return _owner(provenance, path) != origin

    out = dict(new)
    for key, value in old.items():
        if key in NAMED_LISTS:
            continue
        if _empty(out.get(key)) and not _empty(value) and others(key):
            out[key] = value
    for key, id_field in NAMED_LISTS.items():
        olds = old.get(key)
        if not isinstance(olds, list) or not olds:
            continue
        news = out.get(key) if isinstance(out.get(key), list) else []
        by_name = {item[id_field]: item for item in olds}
        merged: list[dict[str, Any]] = []
        present = set()
        for item in news or []:
            name = item[id_field]
            present.add(name)
            prev = by_name.get(name)
            if prev is not None:
                base = f"{key}.{quote(name)}"
                fill = {
                    f: v
                    for f, v in prev.items()
                    if _empty(item.get(f)) and not _empty(v) and others(f"{base}.{f}")
                }
                if fill:
                    item = {**item, **fill}
            merged.append(item)
        for item in olds:
            name = item[id_field]
            if name not in present and others(f"{key}.{quote(name)}"):
                merged.append(item)
        out[key] = merged
    return out


def _stamp(provenance: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The stamp of `path`, or of the closest enclosing path that was recorded."""
    while True:
        p = provenance.get(path)
        if isinstance(p, dict):
            return p
        if "." not in path:
            return None
        path = path.rsplit(".", 1)[0]


def keep_ranked_descriptions(
    old: dict[str, Any], new: dict[str, Any], provenance: dict[str, Any], origin: str, rank: int
) -> dict[str, Any]:
    """For an automated writer: a description (of the asset or of a column) that another
    automated origin of a higher documentation rank set is kept over this writer's. dbt's
    descriptions (rank 1: documentation people wrote) win over a database's comments (rank
    0), whichever runs last, instead of the two replacing each other on every run."""

    def outranked(path: str) -> bool:
        stamp = _stamp(provenance, path)
        return (
            stamp is not None and stamp.get("origin") != origin and int(stamp.get("rank", 0)) > rank
        )

    out = new
    value = old.get("description")
    if not _empty(value) and new.get("description") != value and outranked("description"):
        out = {**out, "description": value}
    columns = out.get("columns")
    olds = old.get("columns")
    if not isinstance(columns, list) or not isinstance(olds, list) or not olds:
        return out
    before = {c["name"]: c.get("description") for c in olds if isinstance(c, dict)}
    merged: list[dict[str, Any]] = []
    changed = False
    for col in columns:
        prev = before.get(col["name"])
        if (
            not _empty(prev)
            and col.get("description") != prev
            and outranked(f"columns.{quote(col['name'])}.description")
        ):
            col = {**col, "description": prev}
            changed = True
        merged.append(col)
    return {**out, "columns": merged} if changed else out
