"""The dbt source: artifacts in, units of catalog assets out (see the package docstring)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from lodestar.ingest.connectors.dbt.manifest import (
    Artifacts,
    clean_text,
    collect_users,
    graph,
    load_artifacts,
    node_tags,
    owner_values,
    table_type,
    tests_by_target,
    upstream_first,
    user_body,
)
from lodestar.ingest.errors import PermanentError
from lodestar.ingest.source import Lineage, Source, SourceConfig, SourceContext, Unit
from lodestar.ingest.sql_lineage import Naming
from lodestar.ingest.sql_lineage import analyze as analyze_sql
from lodestar.model import fqn as fqn_mod

CLASSIFICATION = "dbt"
_STATUS = {"pass": "pass", "fail": "fail", "warn": "fail", "error": "error", "skipped": "skip"}
_MAX_CODE = 262_144
_MAX_VIEW_SQL = 1_048_576
_MAX_TYPE = 512


class DbtConfig(SourceConfig):
    manifest_path: Path = Field(description="dbt's target/manifest.json.")
    catalog_path: Path | None = Field(
        None,
        description="target/catalog.json from `dbt docs generate`: the column types as the "
        "database reports them. Without it, types come from the manifest or are `unknown`.",
    )
    run_results_path: Path | None = Field(
        None,
        description="target/run_results.json of the `dbt build` or `dbt test` whose test "
        "results to record. Copy it aside before `dbt docs generate`, which overwrites it.",
    )
    service: str = Field(
        description="FQN of the database service the models live in, as its database "
        "connector names it, e.g. `warehouse`."
    )
    database_name: str | None = Field(
        None,
        description="Database name to use for every node instead of the manifest's `database` "
        "(for adapters without databases, or a service that names it differently).",
    )
    exposures_service: str | None = Field(
        "dbt_exposures",
        description="Dashboard service for exposures of type dashboard; null leaves them out.",
    )

    @field_validator("service", "exposures_service")
    @classmethod
    def _service(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parts = fqn_mod.split(v)
        except fqn_mod.FQNError as e:
            raise ValueError(str(e)) from None
        if len(parts) != 1:
            raise ValueError(f"services are top-level: give a name such as `warehouse`, not {v!r}")
        return fqn_mod.join(parts)

    @field_validator("database_name")
    @classmethod
    def _database(cls, v: str | None) -> str | None:
        try:
            return None if v is None else fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(str(e)) from None


@dataclass(slots=True)
class _Assets:
    """A unit's assets in dependency order, each (kind, FQN) once."""

    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, kind: str, fqn: str, body: dict[str, Any]) -> None:
        if (kind, fqn) not in self.seen:
            self.seen.add((kind, fqn))
            self.items.append((kind, body))


class DbtSource(Source):
    config_model: ClassVar[type[SourceConfig]] = DbtConfig
    description: ClassVar[str] = (
        "dbt: models, seeds, snapshots and sources with descriptions, owners, tags, compiled "
        "SQL, lineage and test results, onto the tables of the database connector."
    )
    documentation_rank: ClassVar[int] = 1  # people's documentation over database comments

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        assert isinstance(config, DbtConfig)
        self.cfg = config
        self._artifacts: Artifacts | None = None
        self._users: dict[str, dict[str, Any]] = {}
        # table FQN -> its column names as catalog.json has them (for `*` in compiled SQL)
        self._known_columns: dict[str, list[str]] = {}

    # -- the Source interface ------------------------------------------------------------
    def check(self) -> None:
        self._load()

    def units(self) -> Iterator[Unit]:
        art = self._load()
        nodes, upstream = graph(art.manifest)
        tests = tests_by_target(art.manifest)
        order = upstream_first(upstream)
        fqns: dict[str, str] = {}
        claimed: dict[str, str] = {}
        for uid in sorted(order, key=lambda u: (nodes[u]["resource_type"] == "source", u)):
            try:
                fqn = self._fqn(nodes[uid])
            except (PermanentError, fqn_mod.FQNError) as e:
                yield Unit(uid, error=str(e))
                continue
            fqns[uid] = fqn
            if fqn in claimed:  # a source naming a model's table: the model describes it
                self.ctx.warn(f"{uid} names the same table as {claimed[fqn]}: left to that one")
            else:
                claimed[fqn] = uid
        self._users = collect_users(art.manifest, nodes)
        self._known_columns = {
            fqns[uid]: [str(c["name"]) for c in _ordered(entry.get("columns"))]
            for uid, entry in art.catalog.items()
            if uid in fqns
        }
        for uid in order:
            if uid not in fqns or claimed[fqns[uid]] != uid or not self._allowed(fqns[uid]):
                continue
            try:
                yield self._table_unit(art, nodes, upstream, fqns, uid, tests.get(uid, []))
            except (PermanentError, fqn_mod.FQNError, KeyError, TypeError, ValueError) as e:
                yield Unit(uid, error=str(e))
        if self.cfg.exposures_service is not None:
            yield from self._exposure_units(art, fqns, claimed)

    def scope(self) -> list[tuple[str, str]]:
        # Tables belong to the database connector: dbt enriches them but does not decide
        # they are gone. Exposures are dbt's own.
        svc = self.cfg.exposures_service
        return [("dashboard", svc)] if svc is not None else []

    def in_scope(self, kind: str, fqn: str) -> bool:
        return kind == "dashboard" and self.ctx.filters.tables.allows(fqn_mod.split(fqn)[-1])

    # -- artifacts -----------------------------------------------------------------------
    def _load(self) -> Artifacts:
        if self._artifacts is None:
            c = self.cfg
            self._artifacts = load_artifacts(c.manifest_path, c.catalog_path, c.run_results_path)
        return self._artifacts

    # -- naming and filters --------------------------------------------------------------
    def _fqn(self, node: dict[str, Any]) -> str:
        database = self.cfg.database_name or node.get("database")
        if not database:
            raise PermanentError(
                f"{node['unique_id']} has no database in the manifest: set database_name"
            )
        schema = node.get("schema")
        relation = node.get("identifier") if node["resource_type"] == "source" else None
        relation = relation or node.get("alias") or node.get("name")
        if not schema or not relation:
            raise PermanentError(f"{node['unique_id']} has no schema or relation name")
        return fqn_mod.join([*fqn_mod.split(self.cfg.service), database, schema, relation])

    def _allowed(self, fqn: str) -> bool:
        _, database, schema, relation = fqn_mod.split(fqn)[-4:]
        f = self.ctx.filters
        return (
            f.databases.allows(database) and f.schemas.allows(schema) and f.tables.allows(relation)
        )

    # -- tables --------------------------------------------------------------------------
    def _table_unit(
        self,
        art: Artifacts,
        nodes: dict[str, dict[str, Any]],
        upstream: dict[str, list[str]],
        fqns: dict[str, str],
        uid: str,
        tests: list[dict[str, Any]],
    ) -> Unit:
        node = nodes[uid]
        fqn = fqns[uid]
        parts = fqn_mod.split(fqn)
        service, database, schema, relation = parts[:-3], parts[-3], parts[-2], parts[-1]
        svc_fqn = fqn_mod.join(service)
        db_fqn = fqn_mod.join([*service, database])
        schema_fqn = fqn_mod.join([*service, database, schema])
        assets = _Assets()
        adapter = str(art.manifest.get("metadata", {}).get("adapter_type") or "dbt")
        assets.add(
            "service",
            svc_fqn,
            {"name": service[-1], "category": "database", "service_type": adapter},
        )
        assets.add("database", db_fqn, {"name": database, "service": svc_fqn})
        assets.add("schema", schema_fqn, {"name": schema, "database": db_fqn})

        columns = self._columns(node, art.catalog.get(uid), assets)
        body: dict[str, Any] = {
            "name": relation,
            "schema": schema_fqn,
            "table_type": table_type(node, art.catalog.get(uid)),
            "columns": columns,
        }
        description = clean_text(node.get("description")) or clean_text(
            art.catalog.get(uid, {}).get("metadata", {}).get("comment")
        )
        if description:
            body["description"] = description
        tags = self._tags(node_tags(node), assets)
        if tags:
            body["tags"] = tags
        owners = self._owners(owner_values(node), assets)
        if owners:
            body["owners"] = owners
        code = node.get("compiled_code") or node.get("raw_code") or None
        if node["resource_type"] != "source":
            source_code: dict[str, Any] = {"path": node.get("original_file_path")}
            if node["resource_type"] != "seed":
                source_code["language"] = node.get("language") or "sql"
                if code and len(code) <= _MAX_CODE:
                    source_code["code"] = code
                elif code:
                    self.ctx.warn(f"{uid}: SQL longer than {_MAX_CODE} characters left out")
            body["source_code"] = {k: v for k, v in source_code.items() if v}
        # A view's SQL is what the database runs: compiled code only. Uncompiled Jinja (a
        # manifest from `dbt parse`) stays the model's source code and leaves the view SQL the
        # database connector read as it is.
        compiled = node.get("compiled_code")
        views = ("view", "materialized_view")
        if body["table_type"] in views and compiled and len(compiled) <= _MAX_VIEW_SQL:
            body["view_sql"] = compiled
        assets.add("table", fqn, body)

        unit = Unit(uid, assets=assets.items)
        compiled = (
            node.get("compiled_code") if node["resource_type"] in ("model", "snapshot") else None
        )
        pairs = self._column_lineage(art, uid, fqn, compiled) if compiled else {}
        for up in upstream[uid]:
            if up in fqns:
                cols = tuple(pairs.get(fqns[up], ()))
                unit.lineage.append(Lineage("table", fqns[up], "table", fqn, columns=cols))
        for test in tests:
            value = self._test_result(art, test)
            if value is None:
                continue
            invocation = value.get("invocation_id")
            if invocation:  # one execution of one test is one result, however often sent
                key = (
                    "dbt:"
                    + hashlib.sha256(f"{invocation}\0{test['unique_id']}".encode()).hexdigest()[:56]
                )
                unit.observations.append(("table", fqn, "test_result", value, key))
            else:
                unit.observations.append(("table", fqn, "test_result", value))
        return unit

    def _column_lineage(
        self, art: Artifacts, uid: str, fqn: str, compiled: str
    ) -> dict[str, list[tuple[str, str]]]:
        """Upstream table FQN -> (its column, this model's column) pairs, from the model's
        compiled SQL; SQL the analyzer cannot read is a warning (the table-level edges from
        the manifest stay)."""
        parts = fqn_mod.split(fqn)
        service, database, schema = parts[:-3], parts[-3], parts[-2]
        adapter = str(art.manifest.get("metadata", {}).get("adapter_type") or "")
        naming = Naming(fqn_mod.join(service), database, schema, adapter)
        try:
            found = analyze_sql(compiled, naming, target=fqn, columns=self._known_columns)
        except Exception as e:  # an adapter the analyzer does not know...
            self.ctx.warn(f"{uid}: no column lineage: {type(e).__name__}: {e}")
            return {}
        for problem in found.errors[:5]:
            self.ctx.warn(f"{uid}: column lineage incomplete: {problem}")
        return {src: cols for (src, _tgt), cols in found.flows.items()}

    def _columns(
        self, node: dict[str, Any], catalog: dict[str, Any] | None, assets: _Assets
    ) -> list[dict[str, Any]]:
        documented = {str(name).lower(): col for name, col in (node.get("columns") or {}).items()}
        out: list[dict[str, Any]] = []
        if catalog and catalog.get("columns"):
            # The database's columns, in its order; dbt adds what it documents.
            seen = sorted(catalog["columns"].values(), key=lambda c: int(c.get("index") or 0))
            for col in seen:
                doc = documented.pop(str(col["name"]).lower(), {})
                out.append(self._column(str(col["name"]), col.get("type"), col, doc, assets))
            if documented:
                names = ", ".join(sorted(documented))
                self.ctx.warn(
                    f"{node['unique_id']}: documented columns not in the database: {names}"
                )
            return out
        for col in (node.get("columns") or {}).values():
            out.append(self._column(str(col["name"]), col.get("data_type"), {}, col, assets))
        return out

    def _column(
        self,
        name: str,
        data_type: Any,
        catalog_col: dict[str, Any],
        doc: dict[str, Any],
        assets: _Assets,
    ) -> dict[str, Any]:
        col: dict[str, Any] = {
            "name": name,
            "data_type": (str(data_type) if data_type else "unknown")[:_MAX_TYPE],
        }
        description = clean_text(doc.get("description")) or clean_text(catalog_col.get("comment"))
        if description:
            col["description"] = description
        kinds = {str(c.get("type")) for c in doc.get("constraints") or []}
        if "primary_key" in kinds:
            col["constraint"], col["nullable"] = "primary_key", False
        elif "unique" in kinds:
            col["constraint"] = "unique"
        if "not_null" in kinds:
            col["nullable"] = False
            col.setdefault("constraint", "not_null")
        col_tags = list(doc.get("tags") or []) + list((doc.get("config") or {}).get("tags") or [])
        tags = self._tags(col_tags, assets)
        if tags:
            col["tags"] = tags
        return col

    def _tags(self, names: list[Any], assets: _Assets) -> list[str]:
        out: list[str] = []
        for name in dict.fromkeys(str(n) for n in names):
            try:
                fqn = fqn_mod.join([CLASSIFICATION, name])
            except fqn_mod.FQNError as e:
                self.ctx.warn(f"dbt tag {name!r} left out: {e}")
                continue
            assets.add(
                "classification",
                CLASSIFICATION,
                {"name": CLASSIFICATION, "description": "Tags set in dbt projects."},
            )
            assets.add("tag", fqn, {"name": name, "classification": CLASSIFICATION})
            out.append(fqn)
        return out

    def _owners(self, values: list[tuple[str | None, str | None]], assets: _Assets) -> list[Any]:
        owners: list[dict[str, str]] = []
        for name, email in values:
            user = user_body(name, email)
            if user is None:
                self.ctx.warn(f"dbt owner {name or email!r} is not a usable user name")
                continue
            # One body per user in a run, with the e-mail if any node gave one.
            user = self._users.get(user["name"], user)
            fqn = fqn_mod.quote(user["name"])
            assets.add("user", fqn, user)
            if {"kind": "user", "fqn": fqn} not in owners:
                owners.append({"kind": "user", "fqn": fqn})
        return owners

    def _test_result(self, art: Artifacts, test: dict[str, Any]) -> dict[str, Any] | None:
        result = art.results.get(test["unique_id"])
        if result is None:
            return None
        status = str(result.get("status"))
        timing = {t.get("name"): t for t in result.get("timing") or []}
        executed = timing.get("execute") or {}
        meta = test.get("test_metadata") or {}
        failures = result.get("failures")
        return {
            "test": test["unique_id"],
            "name": test.get("name"),
            "test_type": meta.get("name") or "singular",
            "column": test.get("column_name") or None,
            "status": _STATUS.get(status, "error"),
            "severity": "warn" if status == "warn" else "error",
            "failures": int(failures) if isinstance(failures, int) else None,
            "executed_at": executed.get("completed_at")
            or executed.get("started_at")
            or art.generated_at,
            "execution_time": result.get("execution_time"),
            "message": result.get("message"),
            "invocation_id": art.invocation_id,
        }

    # -- exposures -----------------------------------------------------------------------
    def _exposure_units(
        self, art: Artifacts, fqns: dict[str, str], claimed: dict[str, str]
    ) -> Iterator[Unit]:
        svc = self.cfg.exposures_service
        assert svc is not None
        emitted = {uid for uid, fqn in fqns.items() if fqn in claimed and self._allowed(fqn)}
        for uid, exp in sorted((art.manifest.get("exposures") or {}).items()):
            if exp.get("type") != "dashboard" or not self.ctx.filters.tables.allows(exp["name"]):
                continue
            try:
                assets = _Assets()
                assets.add(
                    "service", svc, {"name": svc, "category": "dashboard", "service_type": "dbt"}
                )
                owner = exp.get("owner") or {}
                named = owner.get("name") or owner.get("email")
                owners = self._owners(
                    [(owner.get("name"), owner.get("email"))] if named else [], assets
                )
                tags = self._tags(list(exp.get("tags") or []), assets)
                depends = (exp.get("depends_on") or {}).get("nodes") or []
                sources = list(dict.fromkeys(fqns[n] for n in depends if n in emitted))
                body: dict[str, Any] = {
                    "name": exp["name"],
                    "service": svc,
                    "data_sources": [{"kind": "table", "fqn": f} for f in sources],
                }
                for key, value in (
                    ("display_name", exp.get("label")),
                    ("description", clean_text(exp.get("description"))),
                    ("source_url", exp.get("url")),
                    ("owners", owners),
                    ("tags", tags),
                ):
                    if value:
                        body[key] = value
                fqn = f"{svc}.{fqn_mod.quote(exp['name'])}"
                assets.add("dashboard", fqn, body)
                unit = Unit(uid, assets=assets.items)
                unit.lineage = [("table", f, "dashboard", fqn) for f in sources]
                yield unit
            except (fqn_mod.FQNError, KeyError, TypeError) as e:
                yield Unit(uid, error=str(e))


def _ordered(columns: Any) -> list[dict[str, Any]]:
    """catalog.json's columns of a relation in the database's order."""
    if not isinstance(columns, dict):
        return []
    return sorted(columns.values(), key=lambda c: int(c.get("index") or 0))
