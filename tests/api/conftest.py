"""Fixtures of the HTTP suites: real servers (SQLite, PostgreSQL) shared by the whole session.

Tests share a server, so each writes under names of its own (`Api.fresh_seed()`, `unique()`)
and compares state before and after rather than assuming an empty catalog. Fixture names start
with `api` so they never collide with those of tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .support import BACKENDS, PG_HINT, Api, ApiServer, Seed, ServerPool, pg_unreachable


def _servers_needed(session: pytest.Session) -> list[str]:
    needed: list[str] = []
    for item in session.items:
        names = getattr(item, "fixturenames", ())
        if "api_server" in names:
            callspec = getattr(item, "callspec", None)
            if callspec is not None and "api_server" in callspec.params:
                needed.append(callspec.params["api_server"])
        if "api_anonymous_read_server" in names:
            needed.append("sqlite-anonymous-read")
    return list(dict.fromkeys(needed))


@pytest.fixture(scope="session")
def api_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory, _servers_needed(request.session))
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def api_pg_available() -> None:
    """Skips (under CI: fails) the PostgreSQL tests when the server cannot be reached."""
    why = pg_unreachable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_HINT}. CI must run the PostgreSQL API tests. ({why})")
        pytest.skip(f"{PG_HINT} ({why})")


@pytest.fixture(scope="session", params=BACKENDS)
def api_server(request: pytest.FixtureRequest, api_servers: ServerPool) -> ApiServer:
    """The session's server on each backend, on a database of its own."""
    backend: str = request.param
    if backend == "postgres":
        request.getfixturevalue("api_pg_available")
    return api_servers.get(backend)


@pytest.fixture(scope="session")
def api_anonymous_read_server(api_servers: ServerPool) -> ApiServer:
    """A SQLite server started with LODESTAR_ANONYMOUS_READ=true."""
    return api_servers.get("sqlite-anonymous-read")


@pytest.fixture(scope="session")
def api(api_server: ApiServer) -> Iterator[Api]:
    client = Api(api_server)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def api_seed(api: Api) -> Seed:
    """The shared seed catalog (no prefix: users alice, bob, carol; team data; PII.Sensitive)."""
    return api.seed()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """On a failure, show the tail of the server's log (a 500's traceback is there)."""
    report = yield
    server = getattr(item, "funcargs", {}).get("api_server")
    if report.failed and isinstance(server, ApiServer):
        report.sections.append(("lodestar server log (tail)", server.log()[-6000:]))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked sqlite_only (the per-route authorization walks: authorization sits above
    the store) are not collected for the PostgreSQL server, rather than skipped by the hundred."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("api_server") if callspec is not None else None
        if backend == "postgres" and item.get_closest_marker("sqlite_only"):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
