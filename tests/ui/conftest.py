"""A UI server per test module on each backend, holding the demo sample and a token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import UiServer, ui_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def ui(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiServer]:
    data_dir = tmp_path_factory.mktemp("ui")
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'catalog.db'}"
        with ui_server(url, data_dir) as server:
            yield server
        return
    pg = request.getfixturevalue("pg_server")
    name = pg.fresh(request.getfixturevalue("pg_template"))
    try:
        with ui_server(pg.url_of(name), data_dir) as server:
            yield server
    finally:
        pg.drop_later(name)
