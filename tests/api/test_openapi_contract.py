"""The OpenAPI document says what each route really answers: clients are generated from it.
(That the answers match it, request by request, is tests/api/test_schemathesis.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from lodestar.api.app import create_app
from lodestar.model.registry import all_kinds
from lodestar.settings import Settings

from .support import Api

PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("oapi")))).openapi()


def _ops(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, path, op) for path, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_error_is_a_problem_and_every_success_has_a_body_schema(
    doc: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]
    for method, path, op in _ops(doc):
        responses = op["responses"]
        assert "400" in responses, (method, path)  # a NUL in any URL is refused
        if op.get("parameters") or "requestBody" in op:
            assert "422" in responses, (method, path)
        for status, resp in responses.items():
            content = resp.get("content", {})
            if int(status) >= 400:
                assert content == {"application/problem+json": {"schema": PROBLEM}}, (
                    method,
                    path,
                    status,
                )
            elif status == "204":
                assert content == {}, (method, path)
            else:
                assert content, (method, path, status)
                for media, body in content.items():
                    assert body["schema"] not in ({}, None), (method, path, status, media)
                    assert media in ("application/json", "application/x-ndjson")


def test_each_kind_route_declares_what_it_can_answer(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for kind in all_kinds():
        base = f"/api/v1/{kind.plural}"
        model = kind.model.__name__

        def codes(path: str, method: str) -> set[str]:
            return set(doc["paths"][path][method]["responses"])

        assert {"201", "409", "413", "415", "401", "403"} <= codes(base, "post")
        assert {"200", "201", "409", "412", "413", "415"} <= codes(base, "put")
        for one in (f"{base}/{{id}}", f"{base}/name/{{fqn}}"):
            assert {"200", "404"} <= codes(one, "get")
            assert {"404", "409", "412", "413", "415"} <= codes(one, "patch")
            assert {"200", "204", "404", "412"} <= codes(one, "delete")
            got = doc["paths"][one]["get"]["responses"]["200"]
            assert got["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{model}Read"
            }
            assert "ETag" in got["headers"]
        assert {"404", "409", "412"} <= codes(f"{base}/{{id}}/restore", "post")

        read = schemas[f"{model}Read"]
        assert {"id", "kind", "fqn", "version", "href", "updated_by"} <= read["properties"].keys()
        assert set(schemas[model]["required"]) <= set(read["required"])
        page = doc["paths"][base]["get"]["responses"]["200"]["content"]["application/json"]
        page_schema = schemas[page["schema"]["$ref"].rsplit("/", 1)[1]]
        assert page_schema["properties"]["data"]["items"] == {
            "$ref": f"#/components/schemas/{model}Read"
        }
        assert page_schema["properties"]["paging"] == {"$ref": "#/components/schemas/Paging"}


def test_bulk_events_and_versions_are_described(doc: dict[str, Any]) -> None:
    bulk = doc["paths"]["/api/v1/bulk"]["post"]
    assert "application/x-ndjson" in bulk["requestBody"]["content"]
    ok = bulk["responses"]["200"]["content"]["application/x-ndjson"]
    assert ok["x-ndjson-line"] == {"$ref": "#/components/schemas/BulkStatus"}
    assert {"413", "415"} <= bulk["responses"].keys()
    events = doc["paths"]["/api/v1/events"]["get"]["responses"]["200"]
    assert events["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventPage"
    }
    versions = doc["paths"]["/api/v1/tables/{id}/versions"]["get"]["responses"]["200"]
    assert versions["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VersionPage"
    }


def test_the_served_document_is_byte_stable(api: Api) -> None:
    first = api.anon.get("/openapi.json")
    second = api.anon.get("/openapi.json")
    assert first.status_code == 200
    assert first.content == second.content


def test_docs_load_only_local_assets_that_answer(api: Api) -> None:
    """/docs works without internet: every script, style and icon it loads is served here."""
    page = api.anon.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert len(urls) >= 4, urls  # the script, the style, the icon and the document
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not local"
        got = api.anon.get(url)
        assert got.status_code == 200, url
        assert got.content, url
    assert "/docs/assets/swagger-ui-bundle.js" in urls
    bundle = api.anon.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert api.anon.get("/docs/assets/..%2Fcore.py").status_code == 404
