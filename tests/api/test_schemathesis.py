"""Every operation of the OpenAPI document, driven by schemathesis against a real server on
SQLite as the admin: a 5xx, a status the document does not declare, another content type or a
body that does not match its schema fails. A few derandomized examples per operation keep it
to seconds; bench/schemathesis_run.py runs the same checks with many more."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis

from lodestar.api.app import create_app
from lodestar.settings import Settings

from .support import ApiServer, api_server_running

# The checks, the NDJSON serializer and the per-operation run are the bench's
# (bench/schemathesis_run.py), with few examples here.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from schemathesis_run import check_operation

pytestmark = pytest.mark.slow

EXAMPLES = 6


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
    auth = {"Authorization": f"Bearer {fuzz_server.admin_token}"}
    _requests, failures = check_operation(
        _SCHEMA[path][method], fuzz_server.base_url, auth, EXAMPLES
    )
    assert not failures, "\n\n".join(failures)
