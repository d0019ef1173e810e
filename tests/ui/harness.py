"""A real server for the UI tests: the app on uvicorn in a thread, on a catalog holding the demo
sample, with a token per role."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from lodestar.api.app import create_app
from lodestar.auth.tokens import TokenService
from lodestar.catalog import Catalog
from lodestar.cli.demo import load_sample
from lodestar.settings import Settings
from lodestar.store import Store, open_store
from serving import free_port

# A demo table an editor owns (through the user the demo's `marts` tables name).
TABLE = "warehouse.analytics.marts.fct_orders"


@dataclass
class UiServer:
    url: str
    store: Store
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)
    editor_user: str = ""

    @property
    def catalog(self) -> Catalog:
        return Catalog(self.store)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    @contextmanager
    def login(self, role: str) -> Iterator[httpx.Client]:
        """A client with a session cookie for the role's token."""
        with self.client() as c:
            page = c.get("/ui/login")
            assert page.status_code == 200, page.text
            r = c.post(
                "/ui/login",
                data={"token": self.tokens[role], "csrf": csrf_of(page.text), "next": "/ui/"},
            )
            assert r.status_code == 303, r.text
            yield c


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _owner_of(catalog: Catalog, fqn: str) -> str:
    from lodestar.catalog import Key

    owners = catalog.get("table", Key(fqn=fqn)).doc.get("owners", [])
    users = [o["fqn"] for o in owners if o["kind"] == "user"]
    assert users, f"the demo table {fqn} has no user owner"
    return str(users[0])


@contextmanager
def ui_server(db_url: str, data_dir: Path, **settings: Any) -> Iterator[UiServer]:
    store = open_store(db_url)
    catalog = Catalog(store)
    _counts, failed = load_sample(catalog)
    assert not failed, failed[:1]
    tokens = TokenService(store)
    owner = _owner_of(catalog, TABLE)
    issued = {
        "admin": tokens.issue("ui-admin", "admin"),
        "steward": tokens.issue("ui-steward", "steward"),
        "viewer": tokens.issue("ui-viewer", "viewer"),
        "editor": tokens.issue("ui-editor", "editor", user=owner),
        "outsider": tokens.issue("ui-outsider", "editor", user="nobody-owns-this"),
    }
    port = free_port()
    app = create_app(
        Settings(data_dir=data_dir, database_url=db_url, scheduler=False, **settings), store
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the UI test server did not start"
        time.sleep(0.05)
    try:
        yield UiServer(url, store, data_dir, issued, owner)
    finally:
        server.should_exit = True
        thread.join(20)
        store.dispose()
