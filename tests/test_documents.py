"""AssetSpec.document() builds the stored document without pydantic's serialiser for plain
values; it must give exactly what model_dump(mode="json", by_alias=True, exclude_none=True)
gives (same keys, values and order) for every kind."""

from __future__ import annotations

import copy
from typing import Any, get_args

import orjson
import pytest

from lodestar.catalog.writes import validate_body
from lodestar.demo.sample import sample_assets
from lodestar.model.registry import get_kind


def _reference(kind: str, body: dict[str, Any]) -> bytes:
    spec = validate_body(get_kind(kind), copy.deepcopy(body))
    return orjson.dumps(spec.model_dump(mode="json", by_alias=True, exclude_none=True))


def _document(kind: str, body: dict[str, Any]) -> bytes:
    return orjson.dumps(validate_body(get_kind(kind), copy.deepcopy(body)).document())


def _with_explicit_nulls(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body with every optional field the kind has, and every column key, sent as null."""
    out = dict(body)
    for name, info in get_kind(kind).model.model_fields.items():
        key = info.alias or name
        if key not in out and type(None) in get_args(info.annotation):
            out[key] = None
    if isinstance(out.get("columns"), list):
        out["columns"] = [
            {**c, "description": None, "default": None, "constraint": None, "ordinal": None}
            for c in out["columns"]
        ]
    return out


SAMPLE = sample_assets()


@pytest.mark.parametrize("index", range(len(SAMPLE)), ids=[f"{k}:{b['name']}" for k, b in SAMPLE])
def test_document_matches_pydantic_for_the_demo_sample(index: int) -> None:
    kind, body = SAMPLE[index]
    assert _document(kind, body) == _reference(kind, body)


def test_document_matches_pydantic_with_explicit_nulls_for_every_kind() -> None:
    seen = set()
    for kind, body in SAMPLE:
        nulls = _with_explicit_nulls(kind, body)
        assert _document(kind, nulls) == _reference(kind, nulls), kind
        seen.add(kind)
    assert seen >= {"table", "pipeline", "dashboard", "service", "user"}


def test_document_keeps_nested_models_and_column_extras() -> None:
    body = {
        "name": "orders",
        "schema": "shop.db.raw",
        "description": "All orders.",
        "owners": [{"kind": "user", "fqn": "ada"}],
        "links": [{"title": "Runbook", "url": "https://example.com/runbook"}],
        "source_code": {"repository": "git@example.com:shop.git", "path": "models/orders.sql"},
        "columns": [
            {"name": "id", "data_type": "int", "constraint": "primary_key", "description": None},
            {"name": "a.b", "data_type": "text", "tags": ["PII.Sensitive"], "default": "''"},
        ],
        "constraints": [{"type": "unique", "columns": ["a.b"]}],
        "sample_data": {"columns": ["id", "a.b"], "rows": [[1, None], [2, "x"]]},
        "custom_properties": {"size": None, "nested": {"k": None}},
    }
    assert _document("table", body) == _reference("table", body)
    doc = orjson.loads(_document("table", body))
    assert "description" not in doc["columns"][0]
    assert doc["custom_properties"] == {"size": None, "nested": {"k": None}}
    assert doc["sample_data"]["rows"][0] == [1, None]
