"""System-test fixtures: a real Lodestar server in a uvicorn subprocess, on SQLite or PostgreSQL.

`backend` is a fresh catalog database on each backend: a SQLite file in the data directory, or a
fresh PostgreSQL database (on the root conftest's `pg_server`: skipped when PostgreSQL is not
reachable, failed under CI). The data directory holds the admin token on both backends.

`start_server()` starts a server (`harness.Server`) on the test's own `backend`, waits until it
answers, and stops it (if it still runs) at the end of the test. `shared_server` is one server per
backend for a whole module, for tests that keep to their own assets (starting a server costs
seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import Backend, Server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from _backend(request, tmp_path)


def _backend(request: pytest.FixtureRequest, tmp: Path) -> Iterator[Backend]:
    data_dir = tmp / "data"
    if request.param == "sqlite":
        yield Backend("sqlite", data_dir, f"sqlite:///{data_dir / 'catalog.db'}")
        return
    pg = request.getfixturevalue("pg_server")
    name = pg.create_database()
    try:
        yield Backend("postgres", data_dir, pg.url_of(name))
    finally:
        pg.drop_database(name)


@pytest.fixture
def start_server(backend: Backend, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    servers: list[Server] = []

    def start() -> Server:
        server = Server(backend, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"server-{request.param}")
    for backend in _backend(request, tmp):
        server = Server(backend, tmp / "server.log")
        try:
            yield server.start()
        finally:
            server.stop()
