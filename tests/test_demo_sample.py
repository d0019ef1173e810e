"""The demo catalog: every body validates, and references only point at earlier assets."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from lodestar.demo.sample import sample_assets
from lodestar.model import fqn
from lodestar.model.common import AssetSpec
from lodestar.model.kinds.custom_property import CustomProperty
from lodestar.model.registry import get_kind

ASSETS = sample_assets()


def _fqn(kind: str, model: AssetSpec, body: dict[str, Any]) -> str:
    """Parent FQN (the most specific parent field set) + name; top-level kinds: the name."""
    spec = get_kind(kind)
    prefix: list[str] = []
    if spec.fqn_prefix is not None:
        prefix = spec.fqn_prefix(model)
    else:
        for parent in spec.parents:
            if body.get(parent.field):
                prefix = fqn.split(body[parent.field])
    return fqn.join([*prefix, model.name])


def _validated() -> list[tuple[str, dict[str, Any], AssetSpec, str]]:
    out = []
    for kind, body in ASSETS:
        model = get_kind(kind).model.model_validate(body)
        out.append((kind, body, model, _fqn(kind, model, body)))
    return out


def _tables() -> dict[str, dict[str, Any]]:
    return {f: body for kind, body, _, f in _validated() if kind == "table"}


@pytest.mark.parametrize(("kind", "body"), ASSETS, ids=[f"{k}:{b['name']}" for k, b in ASSETS])
def test_every_body_validates(kind: str, body: dict[str, Any]) -> None:
    get_kind(kind).model.model_validate(body)


def test_fqns_are_unique() -> None:
    keys = [(kind, f) for kind, _, _, f in _validated()]
    assert [k for k, n in Counter(keys).items() if n > 1] == []


def test_references_point_at_earlier_assets() -> None:
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    for kind, body, model, own in _validated():
        where = f"{kind} {own}"
        for parent in get_kind(kind).parents:
            value = body.get(parent.field)
            if value and (parent.kind, fqn.normalize(value)) not in seen:
                problems.append(f"{where}: parent {parent.kind} {value}")
        for ref in model.references():
            if ref.kind is None:
                found = any(f == ref.fqn for _, f in seen)
            else:
                found = (ref.kind, fqn.normalize(ref.fqn)) in seen
            if not found:
                problems.append(f"{where}: {ref.relation} {ref.kind} {ref.fqn} at {ref.loc}")
        for key in body.get("custom_properties", {}):
            if ("custom_property", fqn.join([kind, key])) not in seen:
                problems.append(f"{where}: custom property {key} is not defined")
        for c in body.get("constraints", []):
            referred = c.get("referred_table")
            if referred and referred != own and ("table", referred) not in seen:
                problems.append(f"{where}: foreign key to {referred}")
        seen.add((kind, own))
    assert problems == []


def test_references_cover_every_kind_of_link() -> None:
    """The order check above is not vacuous: the sample uses every sort of reference."""
    relations = {r.relation for _, _, model, _ in _validated() for r in model.references()}
    for wanted in ("owned_by", "tagged_with", "has_term", "in_domain", "reads", "uses"):
        assert wanted in relations
    kinds = {kind for kind, _ in ASSETS}
    assert {"user", "team", "classification", "tag", "glossary", "glossary_term"} <= kinds
    assert {"domain", "custom_property", "service", "database", "schema", "table"} <= kinds
    assert {"pipeline", "dashboard", "topic", "ml_model", "query", "data_product"} <= kinds


def test_table_count_and_layers() -> None:
    tables = _tables()
    assert 25 <= len(tables) <= 40
    by_schema = Counter(fqn.split(f)[2] for f in tables)
    assert set(by_schema) == {"raw", "staging", "marts"}
    for f, body in tables.items():
        assert fqn.split(f)[:2] == ["warehouse", "analytics"]
        assert body["description"] and body["columns"], f
        assert all(c.get("description") and c["data_type"] for c in body["columns"]), f
        assert any(t.startswith("Tier.") for t in body["tags"]), f
        if fqn.split(f)[2] == "staging":
            assert body["table_type"] == "view"
            assert re.search(r"\bFROM raw\.\w+", body["view_sql"]), f
            for src in re.findall(r"\b(?:FROM|JOIN) raw\.(\w+)", body["view_sql"]):
                assert f"warehouse.analytics.raw.{src}" in tables, (f, src)
    assert tables["warehouse.analytics.marts.daily_revenue"]["table_type"] == "materialized_view"
    assert sum(1 for b in tables.values() if b.get("sample_data")) >= 2


def test_foreign_keys_name_real_columns() -> None:
    tables = _tables()
    for f, body in tables.items():
        for c in body.get("constraints", []):
            if c["type"] != "foreign_key":
                continue
            referred = tables[c["referred_table"]]
            names = {col["name"] for col in referred["columns"]}
            assert set(c["referred_columns"]) <= names, (f, c)


def test_personal_columns_are_tagged() -> None:
    personal = re.compile(r"(email|phone|address_line\d|full_name|first_name|last_name)$")
    for f, body in _tables().items():
        for c in body["columns"]:
            if personal.search(c["name"]):
                assert "PII.Sensitive" in c.get("tags", []), (f, c["name"])


def test_custom_property_values_match_definitions() -> None:
    definitions: dict[str, CustomProperty] = {}
    used = 0
    for kind, _, model, own in _validated():
        if isinstance(model, CustomProperty):
            definitions[own] = model
            continue
        for key, value in model.custom_properties.items():
            definition = definitions[fqn.join([kind, key])]
            assert definition.check_value(value) is None, (kind, model.name, key, value)
            used += 1
    assert used >= 5


def test_secrets_are_references() -> None:
    services = {b["name"]: b for k, b in ASSETS if k == "service"}
    conn = services["warehouse"]["connection"]
    assert conn["password"] == "${WAREHOUSE_PASSWORD}"
    assert {"host", "port", "database", "username"} <= set(conn)


def test_deterministic() -> None:
    assert sample_assets() == sample_assets()
