"""A bulk body over LODESTAR_MAX_BULK_BYTES (issue 9): with a declared Content-Length it is
refused before anything is read or stored; streamed (chunked) past the limit, the 413 says
which lines were stored before, with each one's status. Real servers on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from .support import BACKENDS, Api, ApiServer, api_server_running, problem_of, unique

LIMIT = 256 * 1024
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(params=BACKENDS)
def small(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    if request.param == "postgres":
        request.getfixturevalue("api_pg_available")
    env = {"LODESTAR_MAX_BULK_BYTES": str(LIMIT), "LODESTAR_SCHEDULER": "false"}
    server: ApiServer
    with api_server_running(tmp_path / "server", request.param, env) as server:
        api = Api(server)
        try:
            yield api
        finally:
            api.close()


def _lines(count: int) -> list[bytes]:
    """Users of ~100 bytes each: the body passes the limit well after the first chunk."""
    prefix = unique("u")
    return [
        orjson.dumps({"kind": "user", "name": f"{prefix}_{i:05d}", "email": "x@example.com"}).ljust(
            100
        )
        for i in range(count)
    ]


def test_a_declared_length_over_the_limit_stores_nothing(small: Api) -> None:
    before = small.last_event()
    body = b"\n".join(_lines(4000)) + b"\n"
    assert len(body) > LIMIT
    resp = small.client.post("/api/v1/bulk", content=body, headers=NDJSON)
    assert resp.status_code == 413, resp.text
    assert small.last_event() == before, "nothing was stored"
    assert "nothing was stored" in problem_of(resp)["detail"]


def test_a_streamed_body_over_the_limit_says_what_it_stored(small: Api) -> None:
    before = small.last_event()
    lines = _lines(4000)

    def stream() -> Iterator[bytes]:
        for i in range(0, len(lines), 50):
            yield b"\n".join(lines[i : i + 50]) + b"\n"

    resp = small.client.post("/api/v1/bulk", content=stream(), headers=NDJSON)
    assert resp.status_code == 413, resp.text
    problem = problem_of(resp)
    done = problem["lines"]
    assert done, "the first chunk was stored before the limit was reached"
    assert [d["line"] for d in done] == list(range(1, len(done) + 1))
    assert all(d["result"] == "created" and d["status"] == 201 for d in done)
    assert f"lines 1 to {len(done)} were processed" in problem["detail"]
    assert small.last_event() == before + len(done), "exactly the reported lines were stored"
    last = orjson.loads(lines[len(done) - 1])["name"]
    assert small.by_name("users", last).status_code == 200
    after = orjson.loads(lines[len(done)])["name"]
    assert small.by_name("users", after).status_code == 404
