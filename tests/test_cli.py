"""The `lodestar` command: local commands through CliRunner on a temporary data dir, client
commands against a real `lodestar serve` subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from lodestar.auth.tokens import TokenService
from lodestar.catalog import Catalog, Key
from lodestar.cli.main import app
from lodestar.demo.sample import sample_assets
from lodestar.store import migrate, open_store
from serving import free_port

pytestmark = pytest.mark.slow

TOKEN = re.compile(r"lds_[A-Za-z0-9_-]{20,}")
_SETTINGS_ENV = ("LODESTAR_DATABASE_URL", "LODESTAR_CONFIG", "LODESTAR_URL", "LODESTAR_TOKEN")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LODESTAR_DATA_DIR", str(tmp_path))
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=input)


# -- local commands ------------------------------------------------------------------------
def loaded_by(*argv: str) -> tuple[str, set[str]]:
    """What a `lodestar ...` process printed, and the modules it had imported at the end."""
    code = (
        "import sys\n"
        "from lodestar.cli.main import main\n"
        "sys.argv = ['lodestar', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('\\n' + ' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    printed, _, modules = done.stdout.rstrip("\n").rpartition("\n")
    return printed, set(modules.split())


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


# What a command that talks to neither a database nor a server must not load (each costs
# tens of milliseconds of start-up).
SERVER_STACK = {"fastapi", "starlette", "uvicorn", "httpx", "alembic", "jinja2"}
DATA_STACK = {"sqlalchemy", "psycopg", "pydantic", "pydantic_settings", "orjson", "yaml"}


def test_help_does_not_load_the_server_stack() -> None:
    _, loaded = loaded_by("--help")
    assert packages(loaded) & (SERVER_STACK | DATA_STACK) == set()
    # Of lodestar itself, only the command modules (which declare the options).
    assert {m for m in loaded if m.startswith("lodestar.")} <= {
        "lodestar.cli",
        "lodestar.cli.common",
        "lodestar.cli.demo",
        "lodestar.cli.ingest",
        "lodestar.cli.lineage",
        "lodestar.cli.local",
        "lodestar.cli.main",
        "lodestar.cli.quality",
        "lodestar.cli.remote",
        "lodestar.cli.search",
    }
    result = run("--help")
    assert result.exit_code == 0
    assert "demo" in result.stdout and "token" in result.stdout


def test_ingest_loads_neither_the_server_stack_nor_alembic(tmp_path: Path, data_dir: Path) -> None:
    """`lodestar ingest` into the embedded catalog is a short command: it starts without the
    web stack, without Alembic once the catalog is at head, without rich under --json, and
    builds only the asset kinds its source makes."""
    import sqlite3

    source = tmp_path / "shop.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
    conn.close()
    recipe = tmp_path / "shop.yml"
    recipe.write_text(
        json.dumps({"source": {"type": "sqlite", "config": {"path": str(source), "service": "f"}}})
    )
    open_store(f"sqlite:///{data_dir / 'catalog.db'}").dispose()
    for run_ in ("first", "unchanged"):
        printed, loaded = loaded_by("ingest", str(recipe), "--json")
        report = json.loads(printed)
        assert report["created" if run_ == "first" else "unchanged"] == 4, report
        assert packages(loaded) & (SERVER_STACK | {"rich"}) == set()
        assert {m for m in loaded if m.startswith(("lodestar.api", "lodestar.jobs.sch"))} == set()
        kinds = {m.rsplit(".", 1)[1] for m in loaded if m.startswith("lodestar.model.kinds.")}
        made = {"service", "database", "schema", "table", "custom_property", "ingestion_pipeline"}
        assert kinds <= made, kinds


def test_db_upgrade_and_current(data_dir: Path) -> None:
    before = run("db", "current")
    assert before.exit_code == 0, before.output
    assert before.stdout.strip() == "none"
    assert "lodestar db upgrade" in before.stderr

    up = run("db", "upgrade")
    assert up.exit_code == 0, up.output
    assert up.stdout.strip() == migrate.head()
    assert (data_dir / "catalog.db").is_file()

    again = run("db", "upgrade")
    assert again.stdout.strip() == migrate.head()
    assert "up to date" in again.stderr
    assert run("db", "current").stdout.strip() == migrate.head()


def test_token_create_prints_only_the_token(data_dir: Path) -> None:
    result = run("token", "create", "--role", "viewer", "--name", "ci")
    assert result.exit_code == 0, result.output
    assert TOKEN.fullmatch(result.stdout.strip()), repr(result.stdout)
    assert "shown only this once" in result.stderr

    store = open_store(f"sqlite:///{data_dir / 'catalog.db'}")
    try:
        principal = TokenService(store).resolve(result.stdout.strip())
        assert principal is not None and (principal.name, principal.role) == ("ci", "viewer")

        dup = run("token", "create", "--role", "viewer", "--name", "ci")
        assert dup.exit_code == 1
        assert dup.stdout == ""
        assert "a token named 'ci' exists" in dup.stderr

        bad = run("token", "create", "--role", "root", "--name", "x")
        assert bad.exit_code == 1 and "unknown role 'root'" in bad.stderr

        listed = run("token", "list", "--json")
        assert [(t["name"], t["revoked"]) for t in json.loads(listed.stdout)] == [("ci", False)]

        assert run("token", "revoke", "ci").exit_code == 0
        assert TokenService(store).resolve(result.stdout.strip()) is None
        assert run("token", "revoke", "ci").exit_code == 1
    finally:
        store.dispose()


def test_settings_errors_are_reported(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LODESTAR_CONFIG", str(data_dir / "missing.toml"))
    result = run("db", "current")
    assert result.exit_code == 2
    assert "missing.toml does not exist" in result.stderr

    monkeypatch.delenv("LODESTAR_CONFIG")
    monkeypatch.setenv("LODESTAR_DATABASE_URL", "mysql://x")
    result = run("token", "list")
    assert result.exit_code == 2
    assert "postgresql+psycopg://" in result.stderr


@pytest.mark.parametrize("name", ["", " padded", "bell\x07"])
def test_pipelines_run_with_a_name_no_pipeline_can_have_says_so(data_dir: Path, name: str) -> None:
    assert run("db", "upgrade").exit_code == 0
    result = run("pipelines", "run", name)
    assert result.exit_code == 1, result.exception
    assert f"error: no pipeline can be named {name!r}" in result.stderr


def test_a_database_that_refuses_is_one_line_without_the_password(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "LODESTAR_DATABASE_URL", "postgresql+psycopg://lodestar:s3cret@127.0.0.1:1/x"
    )
    for command in (("db", "current"), ("db", "upgrade")):
        result = run(*command)
        assert result.exit_code == 1, result.exception
        assert result.stderr.startswith("error: the database failed: "), result.stderr
        assert "s3cret" not in result.output + result.stderr


def _events_and_versions(directory: Path) -> tuple[int, list[int]]:
    store = open_store(f"sqlite:///{directory / 'catalog.db'}")
    try:
        catalog = Catalog(store)
        versions = [
            catalog.get(kind, Key(fqn=body["name"])).version
            for kind, body in sample_assets()
            if kind in ("user", "team", "classification")
        ]
        return catalog.last_event(), versions
    finally:
        store.dispose()


def test_demo_loads_the_sample_once(tmp_path: Path, data_dir: Path) -> None:
    demo_dir = tmp_path / "demo-here"
    first = run("demo", "--no-serve", "--data-dir", str(demo_dir))
    assert first.exit_code == 0, first.output
    total = len(sample_assets())
    token = (demo_dir / "demo.token").read_text().strip()
    assert token in first.stdout
    assert "http://127.0.0.1:8585/docs" in first.stdout
    assert "http://127.0.0.1:8585/ui/" in first.stdout  # the demo opens on the web UI
    assert f"{total} created" in first.stdout
    assert first.stdout.count("curl ") == 2
    events, versions = _events_and_versions(demo_dir)
    assert events == total
    assert set(versions) == {1}

    second = run("demo", "--no-serve", "--data-dir", str(demo_dir))
    assert second.exit_code == 0, second.output
    assert f"{total} unchanged" in second.stdout
    assert token in second.stdout, "the token is reused"
    assert _events_and_versions(demo_dir) == (events, versions)

    fresh = run("demo", "--no-serve", "--fresh", "--data-dir", str(demo_dir), "--host", "0.0.0.0")
    assert fresh.exit_code == 0, fresh.output
    assert token not in fresh.stdout
    assert f"{total} created" in fresh.stdout
    assert "not a loopback address" in fresh.stderr


def test_ingest_stores_a_pipeline_with_its_owners_that_list_and_run_show(
    tmp_path: Path, data_dir: Path
) -> None:
    import sqlite3

    from lodestar.auth.principal import Principal
    from lodestar.catalog import WriteContext

    source = tmp_path / "shop.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
    conn.close()
    store = open_store(f"sqlite:///{data_dir / 'catalog.db'}")
    try:
        steward = WriteContext.for_principal(Principal("alice", "steward"))
        Catalog(store).upsert("team", {"name": "data-platform"}, steward)
    finally:
        store.dispose()
    recipe = {
        "pipeline": "shop",
        "source": {"type": "sqlite", "config": {"path": str(source), "service": "shop"}},
        "owners": [{"kind": "team", "fqn": "data-platform"}],
    }
    (tmp_path / "shop.yml").write_text(json.dumps(recipe))

    first = run("ingest", str(tmp_path / "shop.yml"), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["created"] == 4  # service, database, schema, table
    listed = run("pipelines", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["owners"], row["last_status"]) == (
        "shop",
        ["team:data-platform"],
        "success",
    )
    table = run("pipelines", "list", env={"COLUMNS": "200"})
    assert "team:data-platform" in table.stdout
    again = run("pipelines", "run", "shop", "--json")
    assert again.exit_code == 0, again.output
    assert (json.loads(again.stdout)["unchanged"], json.loads(again.stdout)["created"]) == (4, 0)

    # An owner the catalog does not have: one line that names the field, exit non-zero.
    recipe["owners"] = [{"kind": "team", "fqn": "nobody"}]
    (tmp_path / "orphan.yml").write_text(json.dumps(recipe | {"pipeline": "orphan"}))
    orphan = run("ingest", str(tmp_path / "orphan.yml"))
    assert orphan.exit_code != 0
    assert "owners.0: no team named 'nobody'" in orphan.stderr
    assert "Traceback" not in orphan.output


# -- client commands against a server ------------------------------------------------------
@dataclass
class Server:
    url: str
    token: str
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {"LODESTAR_URL": self.url, "LODESTAR_TOKEN": self.token, **extra}


@contextmanager
def _serving(directory: Path, **env_extra: str) -> Iterator[tuple[Popen[bytes], Path, str]]:
    """`lodestar serve` in a subprocess on this data dir and a free port, stopped afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LODESTAR_")}
    env["LODESTAR_DATA_DIR"] = str(directory)
    env.update(env_extra)
    log = directory / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lodestar.cli", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc, directory, f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(proc: Popen[bytes], directory: Path, url: str) -> Server:
    log = directory / "serve.log"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"lodestar serve exited: {log.read_text()}"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"lodestar serve did not start: {log.read_text()}"
        time.sleep(0.1)
    return Server(url, (directory / "admin.token").read_text().strip(), log)


@pytest.fixture(scope="module", autouse=True)
def _serve_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Popen[bytes], Path, str]]:
    """`lodestar serve` on a fresh data dir, shared by the module. It starts with the module's
    first test, so its start-up overlaps the local tests that run before it is used."""
    with _serving(tmp_path_factory.mktemp("serve")) as serving:
        yield serving


@pytest.fixture(scope="module")
def server(_serve_process: tuple[Popen[bytes], Path, str]) -> Server:
    return _ready(*_serve_process)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


SERVICE = {"kind": "service", "name": "wh", "category": "database", "service_type": "postgres"}


@pytest.fixture(scope="module")
def seeded(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Server:
    path = tmp_path_factory.mktemp("seed") / "seed.ndjson"
    lines = [
        SERVICE,
        {"kind": "database", "name": "db", "service": "wh"},
        {"kind": "schema", "name": "raw", "database": "wh.db"},
        *(
            {"kind": "table", "name": f"t{i}", "schema": "wh.db.raw", "columns": []}
            for i in range(3)
        ),
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    statuses = _json(run("put", "-f", str(path), "--json", env=server.env()))
    assert [s["result"] for s in statuses] == ["created"] * len(lines)
    return server


def test_pipelines_run_on_server_waits_for_the_servers_report(tmp_path: Path) -> None:

    directory = tmp_path / "serve"
    directory.mkdir()
    with _serving(directory, LODESTAR_SCHEDULER_INTERVAL="3600") as serving:
        _pipelines_run_on_server(_ready(*serving), directory, tmp_path)


def _pipelines_run_on_server(server: Server, directory: Path, tmp_path: Path) -> None:
    import sqlite3

    source = tmp_path / "shop.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.close()
    recipe = tmp_path / "shop.yml"
    recipe.write_text(
        json.dumps({"source": {"type": "sqlite", "config": {"path": str(source), "service": "cs"}}})
    )
    # stored in the server's catalog by a local run on its data dir
    stored = run("ingest", str(recipe), "--json", env={"LODESTAR_DATA_DIR": str(directory)})
    assert _json(stored)["created"] == 4
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE refunds (id INTEGER PRIMARY KEY)")
    conn.close()

    ran = run("pipelines", "run", "shop", "--on-server", "--json", env=server.env())
    report = _json(ran)
    assert (report["status"], report["created"], report["unchanged"]) == ("success", 1, 4)
    table = run("pipelines", "run", "shop", "--on-server", env=server.env(COLUMNS="200"))
    assert table.exit_code == 0, table.output
    assert "shop: success" in table.stdout and "unchanged" in table.stdout

    queued = _json(run("pipelines", "run", "shop", "--on-server", "--no-wait", "--json",
                       env=server.env()))  # fmt: skip
    assert (queued["pipeline"], queued["status"]) == ("shop", "queued")
    deadline = time.monotonic() + 60
    headers = {"Authorization": f"Bearer {server.token}"}
    while True:  # let it finish before the module's server stops
        runs = httpx.get(f"{server.url}{queued['runs']}", headers=headers).json()["data"]
        if len(runs) == 4 and runs[0]["status"] != "running":
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.1)

    unknown = run("pipelines", "run", "nope", "--on-server", env=server.env())
    assert unknown.exit_code != 0
    assert "has no pipeline named 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.output


def test_serve_announces_the_admin_token_on_first_start(server: Server) -> None:
    log = server.log.read_text()
    assert "first start" in log and "admin.token" in log
    assert f"{server.url}/docs" in log


def test_put_single_document_and_get(seeded: Server, tmp_path: Path) -> None:
    doc = {
        "kind": "table",
        "name": "orders",
        "schema": "wh.db.raw",
        "description": "All orders",
        "columns": [{"name": "id", "data_type": "int"}],
    }
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(doc))
    created = run("put", "-f", str(path), env=seeded.env())
    assert created.exit_code == 0, created.output
    assert "created table wh.db.raw.orders (version 1)" in created.stdout
    assert "unchanged" in run("put", "-f", str(path), env=seeded.env()).stdout

    got = _json(run("get", "table", "wh.db.raw.orders", "--json", env=seeded.env()))
    assert (got["fqn"], got["description"], got["version"]) == ("wh.db.raw.orders", "All orders", 1)

    # A GET result is a valid PUT body: pipe it back through stdin, changed, with --kind.
    got["description"] = "Every order"
    del got["kind"]
    updated = _json(
        run("put", "-f", "-", "--kind", "table", "--json", env=seeded.env(), input=json.dumps(got))
    )
    assert (updated["version"], updated["description"]) == (2, "Every order")

    human = run("get", "table", "wh.db.raw.orders", env=seeded.env())
    assert human.exit_code == 0
    assert "Every order" in human.stdout and "int" in human.stdout

    old = _json(
        run("get", "table", "wh.db.raw.orders", "--version", "1", "--json", env=seeded.env())
    )
    assert old["doc"]["description"] == "All orders"

    versions = _json(run("versions", "table", "wh.db.raw.orders", "--json", env=seeded.env()))
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["change_description"]["fields_updated"][0]["name"] == "description"
    assert "~description" in run("versions", "table", "wh.db.raw.orders", env=seeded.env()).stdout


def test_list_json_is_every_asset(seeded: Server) -> None:
    listed = _json(run("list", "table", "--parent", "wh.db.raw", "--json", env=seeded.env()))
    names = [a["name"] for a in listed]
    assert {"t0", "t1", "t2"} <= set(names)
    assert names == sorted(names)
    limited = _json(run("list", "table", "--limit", "2", "--json", env=seeded.env()))
    assert len(limited) == 2
    human = run("list", "schema", env=seeded.env())
    assert human.exit_code == 0 and "wh.db.raw" in human.stdout


def test_bulk_with_a_bad_line_fails_and_says_which(seeded: Server, tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text(
        json.dumps({"kind": "table", "name": "fine", "schema": "wh.db.raw"})
        + "\n"
        + json.dumps({"kind": "table", "name": "broken", "schema": "wh.db.nope"})
        + "\n"
    )
    result = run("put", "-f", str(path), env=seeded.env())
    assert result.exit_code == 1
    assert "1 created" in result.stdout and "1 failed" in result.stdout
    assert "line 2" in result.stderr and "wh.db.nope" in result.stderr
    got = _json(run("get", "table", "wh.db.raw.fine", "--json", env=seeded.env()))
    assert got["version"] == 1, "the good line is stored"

    garbage = tmp_path / "garbage.ndjson"
    garbage.write_text('{"kind": "table"}\n{nope\n')
    result = run("put", "-f", str(garbage), env=seeded.env())
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_delete_and_restore(seeded: Server) -> None:
    deleted = _json(run("delete", "table", "wh.db.raw.t2", "--json", env=seeded.env()))
    assert deleted["deleted"] is True
    restored = _json(run("restore", "table", "wh.db.raw.t2", "--json", env=seeded.env()))
    assert restored["deleted"] is False
    blocked = run("delete", "schema", "wh.db.raw", env=seeded.env())
    assert blocked.exit_code == 1 and "recursive" in blocked.stderr


def test_events_json_and_follow(seeded: Server) -> None:
    page = _json(run("events", "--kind", "schema", "--json", env=seeded.env()))
    assert [(e["event_type"], e["fqn"]) for e in page["data"]] == [("entity_created", "wh.db.raw")]
    assert page["paging"]["after"] == page["data"][-1]["cursor"]

    followed = run(
        "events", "--follow", "--limit", "3", "--poll", "0.05", "--json", env=seeded.env()
    )
    assert followed.exit_code == 0, followed.output
    lines = [json.loads(line) for line in followed.stdout.splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3]
    assert lines[0]["fqn"] == "wh"


def test_errors_exit_non_zero_with_the_problem_detail(seeded: Server) -> None:
    missing = run("get", "table", "wh.db.raw.missing", env=seeded.env())
    assert missing.exit_code == 1
    assert missing.stdout == ""
    assert missing.stderr.strip() == "error: no table wh.db.raw.missing (404 Not found)"

    no_token = run("get", "table", "wh.db.raw.t0", env={"LODESTAR_URL": seeded.url})
    assert no_token.exit_code == 1 and "needs a token" in no_token.stderr

    bad_kind = run("list", "tabel", env=seeded.env())
    assert bad_kind.exit_code == 2 and "no asset kind 'tabel'" in bad_kind.stderr

    no_kind = run("put", "-f", "-", env=seeded.env(), input='{"name": "x"}')
    assert no_kind.exit_code == 2 and 'no "kind"' in no_kind.stderr

    usage = run("get", "table", env=seeded.env())
    assert usage.exit_code == 2


def test_unreachable_server(data_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run("list", "table", "--url", url)
    assert result.exit_code == 1
    assert f"not reachable at {url}" in result.stderr
    assert "lodestar serve" in result.stderr


def _stored_pipelines(data_dir: Path) -> list[str]:
    db = data_dir / "catalog.db"
    if not db.exists():
        return []
    store = open_store(f"sqlite:///{db}")
    try:
        page = Catalog(store).list_page("ingestion_pipeline", limit=100, include="all")
        return [a.fqn for a in page.items]
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"type": "nope"}, "no connector named 'nope'"),
        ({"type": "postgres", "config": {"service": "pg"}}, "source.config.host"),
        (
            {"type": "postgres", "config": {"service": "pg", "host": "db", "port": "five"}},
            "source.config.port",
        ),
        ({"config": {"service": "shop", "paht": "x.sqlite"}}, "source.config.paht"),
    ],
)
@pytest.mark.parametrize("dry", [False, True])
def test_a_bad_connector_config_is_a_recipe_error_and_stores_nothing(
    tmp_path: Path, data_dir: Path, change: dict[str, Any], said: str, dry: bool
) -> None:
    source = {"type": "sqlite", "config": {"path": str(tmp_path / "x.sqlite"), "service": "s"}}
    recipe = {"pipeline": "bad", "source": source | change}
    (tmp_path / "bad.yml").write_text(json.dumps(recipe))
    result = run("ingest", str(tmp_path / "bad.yml"), *(["--dry-run"] if dry else []))
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert "Traceback" not in result.output
    assert _stored_pipelines(data_dir) == []


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"schedule": "every hour"}, "schedule"),
        (
            {
                "source": {
                    "type": "postgres",
                    "config": {
                        "service": "pg",
                        "host": "db",
                        "username": "u",
                        "password": "hunter2",
                    },
                }
            },
            "${",
        ),
    ],
)
def test_a_dry_run_refuses_what_the_real_run_refuses(
    tmp_path: Path, data_dir: Path, change: dict[str, Any], said: str
) -> None:
    source = tmp_path / "shop.sqlite"
    sqlite3.connect(source).close()
    config = {"path": str(source), "service": "s"}
    recipe = {"pipeline": "p", "source": {"type": "sqlite", "config": config}}
    (tmp_path / "p.yml").write_text(json.dumps(recipe | change))
    real = run("ingest", str(tmp_path / "p.yml"))
    dry = run("ingest", str(tmp_path / "p.yml"), "--dry-run")
    assert real.exit_code != 0 and said in real.stderr, real.output
    assert (dry.exit_code, dry.stderr) == (real.exit_code, real.stderr)
    assert _stored_pipelines(data_dir) == []
