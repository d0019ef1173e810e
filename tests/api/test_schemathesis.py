"""Every operation of the OpenAPI document, driven by schemathesis against a real server on
SQLite as the admin: a 5xx, a status the document does not declare, another content type or a
body that does not match its schema fails. A few derandomized examples per operation keep it
to seconds; bench/schemathesis_run.py runs the same checks with many more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from lodestar.api.app import create_app
from lodestar.settings import Settings

from .support import ApiServer, api_server_running

pytestmark = pytest.mark.slow

EXAMPLES = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The bulk body: NDJSON text as generated from its `type: string` schema."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


_SCHEMA = schemathesis.openapi.from_dict(
    create_app(Settings(data_dir=Path("/nonexistent-lodestar-data-dir"))).openapi()
)
_OPERATIONS = sorted((r.ok().method.upper(), r.ok().path) for r in _SCHEMA.get_all_operations())


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server of its own: the generated writes stay out of the shared servers' catalogs."""
    with api_server_running(tmp_path_factory.mktemp("schemathesis"), "sqlite") as server:
        yield server


def test_every_operation_is_in_the_run() -> None:
    assert len(_OPERATIONS) > 200
    assert ("POST", "/api/v1/bulk") in _OPERATIONS


@pytest.mark.parametrize(("method", "path"), _OPERATIONS, ids=[f"{m} {p}" for m, p in _OPERATIONS])
def test_answers_conform_to_the_document(fuzz_server: ApiServer, method: str, path: str) -> None:
    op = _SCHEMA[path][method]
    auth = {"Authorization": f"Bearer {fuzz_server.admin_token}"}
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def one(case: Any) -> None:
        resp = case.call(base_url=fuzz_server.base_url, headers=auth, timeout=30)
        try:
            case.validate_response(resp, checks=CHECKS, headers=auth)
        except FailureGroup as e:
            failures.append(f"[{resp.status_code}] {case.formatted_path} {case.query}\n{e}")

    one()
    assert not failures, "\n\n".join(failures[:3])
