"""Reading dbt artifacts: the relations a manifest describes, their dependencies, the tests on
them, and the owners, tags and types dbt records, independent of how Lodestar stores them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lodestar.ingest.errors import PermanentError
from lodestar.model import fqn as fqn_mod

RELATIONS = ("model", "seed", "snapshot", "source")
_TABLE_TYPES = {
    "view": "view",
    "table": "table",
    "incremental": "table",
    "seed": "table",
    "snapshot": "table",
    "materialized_view": "materialized_view",
    "dynamic_table": "materialized_view",
}
_CATALOG_TYPES = {"VIEW": "view", "MATERIALIZED VIEW": "materialized_view"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(slots=True)
class Artifacts:
    manifest: dict[str, Any]
    catalog: dict[str, Any]  # unique_id -> catalog.json entry
    results: dict[str, Any]  # unique_id -> run_results.json entry
    invocation_id: str | None
    generated_at: str | None


def load_artifacts(
    manifest_path: Path, catalog_path: Path | None, run_results_path: Path | None
) -> Artifacts:
    manifest = read_json(manifest_path, "manifest_path")
    version = str(manifest.get("metadata", {}).get("dbt_schema_version", ""))
    if "/manifest/" not in version or not isinstance(manifest.get("nodes"), dict):
        raise PermanentError(
            f"{manifest_path} is not a dbt manifest.json: point manifest_path at "
            "target/manifest.json of a dbt project"
        )
    catalog: dict[str, Any] = {}
    if catalog_path is not None:
        data = read_json(catalog_path, "catalog_path")
        catalog = {**data.get("sources", {}), **data.get("nodes", {})}
    results: dict[str, Any] = {}
    invocation: str | None = None
    generated: str | None = None
    if run_results_path is not None:
        data = read_json(run_results_path, "run_results_path")
        results = {r["unique_id"]: r for r in data.get("results", []) if "unique_id" in r}
        invocation = data.get("metadata", {}).get("invocation_id")
        generated = data.get("metadata", {}).get("generated_at")
    return Artifacts(manifest, catalog, results, invocation, generated)


def read_json(path: Path, option: str) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise PermanentError(f"{path} does not exist: check {option}") from None
    except OSError as e:
        raise PermanentError(f"cannot read {path} ({option}): {e}") from None
    except orjson.JSONDecodeError as e:
        raise PermanentError(f"{path} ({option}) is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise PermanentError(f"{path} ({option}) is not a dbt artifact")
    return data


def graph(manifest: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """The nodes that are relations in the database, and each one's direct upstream relations,
    looking through ephemeral models (which are CTEs, not relations)."""
    everything: dict[str, dict[str, Any]] = {**manifest.get("sources", {}), **manifest["nodes"]}
    nodes = {uid: n for uid, n in everything.items() if _is_relation(n)}

    def ups(uid: str, path: frozenset[str]) -> list[str]:
        out: list[str] = []
        for dep in depends(everything.get(uid, {})):
            if dep in nodes:
                out.append(dep)
            elif dep in everything and dep not in path and _is_ephemeral(everything[dep]):
                out.extend(ups(dep, path | {dep}))
        return [u for u in dict.fromkeys(out) if u != uid]

    return nodes, {uid: ups(uid, frozenset({uid})) for uid in nodes}


def _is_relation(node: dict[str, Any]) -> bool:
    config = node.get("config") or {}
    return (
        node.get("resource_type") in RELATIONS
        and config.get("materialized") != "ephemeral"
        and config.get("enabled") is not False
    )


def _is_ephemeral(node: dict[str, Any]) -> bool:
    return (node.get("config") or {}).get("materialized") == "ephemeral"


def depends(node: dict[str, Any]) -> list[str]:
    return list((node.get("depends_on") or {}).get("nodes") or [])


def upstream_first(upstream: dict[str, list[str]]) -> list[str]:
    """Topological order, ties broken by unique_id: a stable order in which lineage's
    upstream tables are written before their downstream ones (cycles are cut)."""
    order: list[str] = []
    done: set[str] = set()
    for start in sorted(upstream):
        stack: list[tuple[str, int]] = [(start, 0)]
        active: set[str] = set()
        while stack:
            uid, i = stack.pop()
            if uid in done:
                continue
            active.add(uid)
            ups = sorted(upstream[uid])
            if i < len(ups):
                stack.append((uid, i + 1))
                if ups[i] not in done and ups[i] not in active:
                    stack.append((ups[i], 0))
                continue
            active.discard(uid)
            done.add(uid)
            order.append(uid)
    return order


def tests_by_target(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Tests by the node they test: a generic test's attached node, else every node it reads."""
    out: dict[str, list[dict[str, Any]]] = {}
    for uid, node in sorted(manifest["nodes"].items()):
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node")
        targets = [attached] if attached else depends(node)
        for target in dict.fromkeys(targets):
            out.setdefault(target, []).append({"unique_id": uid, **node})
    return out


def table_type(node: dict[str, Any], catalog: dict[str, Any] | None) -> str:
    if node["resource_type"] == "source":
        kind = str((catalog or {}).get("metadata", {}).get("type") or "").upper()
        return _CATALOG_TYPES.get(kind, "table")
    materialized = str((node.get("config") or {}).get("materialized") or "table")
    return _TABLE_TYPES.get(materialized, "table")


def node_tags(node: dict[str, Any]) -> list[Any]:
    tags = list(node.get("tags") or []) + list((node.get("config") or {}).get("tags") or [])
    return tags


def owner_values(node: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    values: list[Any] = []
    for meta in (
        node.get("meta"),
        (node.get("config") or {}).get("meta"),
        node.get("source_meta"),
    ):
        if isinstance(meta, dict) and meta.get("owner"):
            owner = meta["owner"]
            values.extend(owner if isinstance(owner, list) else [owner])
            break
    out: list[tuple[str | None, str | None]] = []
    for v in values:
        text = str(v).strip()
        out.append((None, text) if _EMAIL.match(text) else (text, None))
    return out


def user_body(name: str | None, email: str | None) -> dict[str, Any] | None:
    """A user body for a dbt owner: named after the e-mail's local part when there is one."""
    email = email.strip() if email and _EMAIL.match(email.strip()) else None
    user_name = email.split("@", 1)[0] if email else (name or "").strip()
    try:
        fqn_mod.check_part(user_name)
    except fqn_mod.FQNError:
        return None
    return {"name": user_name, "email": email} if email else {"name": user_name}


def collect_users(
    manifest: dict[str, Any], nodes: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every owner named in the project, so that each user gets one body in a run."""
    values = [v for n in nodes.values() for v in owner_values(n)]
    for exp in (manifest.get("exposures") or {}).values():
        owner = exp.get("owner") or {}
        values.append((owner.get("name"), owner.get("email")))
    users: dict[str, dict[str, Any]] = {}
    for name, email in values:
        user = user_body(name, email)
        if user is not None and "email" not in users.get(user["name"], {}):
            users[user["name"]] = user
    return users


def clean_text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None
