"""Helpers of the HTTP test suites: a real server in a subprocess, and a client for it.

`launch_api_server` starts `uvicorn --factory lodestar.api.app:app_from_env` in a subprocess
on a free port with its own data directory (and, for PostgreSQL, its own fresh database, dropped
when it stops). `Api` wraps httpx clients: the admin's, an anonymous one and one per role, mints
tokens over `POST /api/v1/tokens`, and seeds a small catalog over HTTP.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_HOST = "postgres@127.0.0.1:5432"
PG_HINT = (
    "PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres, trust auth), so the API tests "
    "on PostgreSQL cannot run: start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
)
ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
STARTUP_SECONDS = 60.0

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


# -- the server --------------------------------------------------------------------------------


@dataclass
class ApiServer:
    """A uvicorn subprocess serving Lodestar; `ready()` waits for GET /api/v1/health."""

    backend: str
    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    database: str | None = None
    _ready: bool = False

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def database_url(self) -> str:
        """The server's database, for a test that changes it behind the server's back."""
        if self.database is not None:
            return f"postgresql+psycopg://{PG_HOST}/{self.database}"
        return f"sqlite:///{self.data_dir / 'catalog.db'}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ready(self) -> ApiServer:
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(base_url=self.base_url, timeout=2.0) as probe:
            while not self._ready:
                if self.process.poll() is not None:
                    pytest.fail(
                        f"the {self.backend} API server exited with {self.process.returncode} "
                        f"at start-up:\n{self.log()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    self._ready = probe.get("/api/v1/health").status_code == 200
                if not self._ready:
                    if time.monotonic() > deadline:
                        pytest.fail(
                            f"the {self.backend} API server did not answer /api/v1/health "
                            f"within {STARTUP_SECONDS:.0f}s:\n{self.log()}"
                        )
                    time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop the process, then drop its PostgreSQL database."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=15)
        finally:
            if self.database is not None:
                with pg_connect() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                self.database = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pg_connect() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


def pg_unreachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        with pg_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as e:
        return str(e).strip().replace("\n", " ")
    return None


def launch_api_server(
    data_dir: Path, backend: str, env: Mapping[str, str] | None = None, workers: int = 1
) -> ApiServer:
    """Start uvicorn on a fresh database (for PostgreSQL: a new database) without waiting."""
    data_dir.mkdir(parents=True, exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    child_env["LODESTAR_DATA_DIR"] = str(data_dir)
    child_env.update(env or {})
    database = None
    if backend == "postgres":
        database = f"lodestar_api_{uuid.uuid4().hex}"
        with pg_connect() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        child_env["LODESTAR_DATABASE_URL"] = f"postgresql+psycopg://{PG_HOST}/{database}"
    port = _free_port()
    log_path = data_dir / "server.log"
    python = str(PYTHON if PYTHON.exists() else Path(sys.executable))
    args = ["-m", "uvicorn", "--factory", "lodestar.api.app:app_from_env"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        args += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [python, *args], env=child_env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir
        )
    return ApiServer(backend, f"http://127.0.0.1:{port}", data_dir, log_path, process, database)


@contextlib.contextmanager
def api_server_running(
    data_dir: Path, backend: str, env: Mapping[str, str] | None = None, workers: int = 1
) -> Iterator[ApiServer]:
    """A ready server on a fresh database; stopped (and its database dropped) afterwards."""
    server = launch_api_server(data_dir, backend, env, workers)
    try:
        yield server.ready()
    finally:
        server.stop()


# Servers by name: (backend, extra settings). Tests ask for them through fixtures.
SERVERS: dict[str, tuple[str, dict[str, str]]] = {
    "sqlite": ("sqlite", {}),
    "postgres": ("postgres", {}),
    "sqlite-anonymous-read": ("sqlite", {"LODESTAR_ANONYMOUS_READ": "true"}),
}


class ServerPool:
    """The session's servers. The first one asked for also launches every other server the
    selected tests need, so their start-ups overlap instead of adding up."""

    def __init__(self, tmp: pytest.TempPathFactory, needed: list[str]) -> None:
        self.tmp = tmp
        self.needed = needed
        self.servers: dict[str, ApiServer] = {}

    def _launch(self, name: str) -> ApiServer:
        if name not in self.servers:
            backend, env = SERVERS[name]
            self.servers[name] = launch_api_server(self.tmp.mktemp(f"api-{name}"), backend, env)
        return self.servers[name]

    def get(self, name: str) -> ApiServer:
        for other in self.needed:
            if other not in self.servers and (
                SERVERS[other][0] != "postgres" or not pg_unreachable()
            ):
                self._launch(other)
        return self._launch(name).ready()

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()


# -- the client --------------------------------------------------------------------------------


def fqn_path(fqn: str) -> str:
    """An FQN as one URL path segment: everything percent-encoded, so `..` or `/` stay data."""
    return quote(fqn, safe="")


def problem_of(resp: httpx.Response) -> dict[str, Any]:
    """The RFC 9457 body of an error response, checked for its required members."""
    ctype = resp.headers.get("content-type", "")
    assert ctype.startswith("application/problem+json"), (resp.status_code, ctype, resp.text)
    body = resp.json()
    assert isinstance(body, dict), body
    for member in ("type", "title", "status", "detail"):
        assert member in body, (member, body)
    assert body["status"] == resp.status_code, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    return body


@dataclass
class Seed:
    """What `Api.seed` created; every name carries the seed's prefix."""

    prefix: str
    service: str
    database: str
    schema: str
    alice: str
    bob: str
    carol: str
    team: str  # members: bob
    classification: str
    tag: str  # FQN `<classification>.Sensitive`
    glossary: str
    domain: str
    ids: dict[str, str] = field(default_factory=dict)
    table: str | None = None  # made on first need, for kinds a table contains (test cases)

    def table_body(self, name: str, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": name,
            "schema": self.schema,
            "columns": [{"name": "id", "data_type": "int", "nullable": False}],
        }
        body.update(fields)
        return body

    def owner(self, who: str, kind: str = "user") -> list[dict[str, str]]:
        return [{"kind": kind, "fqn": who}]


class _FreshAfterServerError(httpx.HTTPTransport):
    """Drops pooled connections after a 5xx: uvicorn closes a connection whose request raised,
    and reusing it would turn the next, unrelated request into a connection reset."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = super().handle_request(request)
        if resp.status_code >= 500:
            resp.read()
            self._pool.close()
        return resp


class Api:
    """An httpx client against one server, holding the admin token."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.admin_token = server.admin_token
        self.client = self._client(self.admin_token)
        self.anon = self._client(None)
        self._tokens: dict[tuple[str, str | None], str] = {}
        self._clients: list[httpx.Client] = [self.client, self.anon]

    def _client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.server.base_url,
            headers=headers,
            timeout=60.0,
            transport=_FreshAfterServerError(),
        )

    def close(self) -> None:
        for c in self._clients:
            c.close()

    # -- tokens ---------------------------------------------------------------------------------
    def token(self, role: str, user: str | None = None, name: str | None = None) -> str:
        """A token of `role` (acting as `user`), minted once per (role, user) unless named."""
        key = (role, user)
        if name is None and key in self._tokens:
            return self._tokens[key]
        body: dict[str, Any] = {"name": name or f"{role}-{user or 'x'}-{uuid.uuid4().hex[:8]}"}
        body["role"] = role
        if user is not None:
            body["user"] = user
        resp = self.client.post("/api/v1/tokens", json=body)
        assert resp.status_code == 201, resp.text
        token: str = resp.json()["token"]
        if name is None:
            self._tokens[key] = token
        return token

    def as_role(self, role: str, user: str | None = None) -> httpx.Client:
        """A client with a token of `role`; closed with the fixture."""
        c = self._client(self.token(role, user))
        self._clients.append(c)
        return c

    def with_token(self, token: str) -> httpx.Client:
        c = self._client(token)
        self._clients.append(c)
        return c

    # -- shortcuts --------------------------------------------------------------------------------
    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.get(url, **kw)

    def put(self, plural: str, body: Any, **kw: Any) -> httpx.Response:
        return self.client.put(f"/api/v1/{plural}", json=body, **kw)

    def put_ok(self, plural: str, body: Any) -> dict[str, Any]:
        resp = self.put(plural, body)
        assert resp.status_code in (200, 201), resp.text
        out: dict[str, Any] = resp.json()
        return out

    def by_name(self, plural: str, fqn: str, **kw: Any) -> httpx.Response:
        return self.client.get(f"/api/v1/{plural}/name/{fqn_path(fqn)}", **kw)

    def last_event(self) -> int:
        resp = self.client.get("/api/v1/health")
        assert resp.status_code == 200, resp.text
        seq: int = resp.json()["last_event"]
        return seq

    def events_after(self, cursor: int, **params: Any) -> list[dict[str, Any]]:
        """Every event after `cursor`, following the feed page by page."""
        out: list[dict[str, Any]] = []
        after = str(cursor)
        while True:
            resp = self.client.get("/api/v1/events", params={"after": after, **params})
            assert resp.status_code == 200, resp.text
            page = resp.json()
            out.extend(page["data"])
            if not page["data"]:
                return out
            after = page["paging"]["after"]

    def fresh_seed(self) -> Seed:
        """A seed of its own: every name prefixed uniquely, so no other test sees it."""
        return self.seed(unique("s") + "_")

    def seed(self, prefix: str = "") -> Seed:
        """Service, database, schema, users alice/bob/carol, team (bob), tag, glossary, domain."""
        p = prefix
        s = Seed(
            prefix=p,
            service=f"{p}wh",
            database=f"{p}wh.db",
            schema=f"{p}wh.db.raw",
            alice=f"{p}alice",
            bob=f"{p}bob",
            carol=f"{p}carol",
            team=f"{p}data",
            classification=f"{p}PII",
            tag=f"{p}PII.Sensitive",
            glossary=f"{p}Business",
            domain=f"{p}Finance",
        )
        for plural, body in (
            ("services", {"name": s.service, "category": "database", "service_type": "postgres"}),
            ("databases", {"name": "db", "service": s.service}),
            ("schemas", {"name": "raw", "database": s.database}),
            ("users", {"name": s.alice, "email": "alice@example.com"}),
            ("users", {"name": s.bob, "email": "bob@example.com"}),
            ("users", {"name": s.carol, "email": "carol@example.com"}),
            ("teams", {"name": s.team, "members": [s.bob]}),
            ("classifications", {"name": s.classification}),
            ("tags", {"name": "Sensitive", "classification": s.classification}),
            ("glossaries", {"name": s.glossary}),
            ("domains", {"name": s.domain}),
        ):
            got = self.put_ok(plural, body)
            s.ids[f"{plural}:{got['fqn']}"] = got["id"]
        return s


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
