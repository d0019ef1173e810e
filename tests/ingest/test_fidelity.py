"""Issue 10: what the source holds is what the catalog holds, compared against the source's own
catalog (pg_class, information_schema), on the real databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import psycopg
import pytest

from lodestar.catalog import Key
from lodestar.ingest.recipe import Recipe, parse_recipe
from lodestar.model import fqn

from .conftest import MARIA_HOST, MARIA_PORT, _maria_connect
from .test_self_healing import Env, PgSource, env, pg_source  # noqa: F401 - fixtures

# Names PostgreSQL allows that once failed the FQN rules: trailing and leading white space, a
# tab and a newline inside, each beside an ordinary table.
ODD_NAMES = ["trailing ", " leading", "tab\there", "line\nbreak", "plain"]


def _pg_relnames(pg: PgSource, schema: str) -> list[str]:
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v') ORDER BY 1",
            (schema,),
        ).fetchall()
    return sorted(r[0] for r in rows)


def _grant(pg: PgSource, schema: str) -> None:
    with pg.connect() as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{pg.role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO "{pg.role}"')


def _url_of(pg: PgSource) -> str:
    url = pg.server.url.set(drivername="postgresql+psycopg", database=pg.database)
    return str(url.render_as_string(hide_password=False))


def _live(cat: Env, prefix: str) -> dict[str, Any]:
    page = cat.catalog.list_page("table", limit=10_000)
    return {a.fqn: a for a in page.items if a.fqn.startswith(prefix)}


@pytest.mark.postgres
def test_every_name_postgres_allows_is_catalogued_and_round_trips(
    pg_source: PgSource,  # noqa: F811
    env: Env,  # noqa: F811
) -> None:
    with pg_source.connect() as conn:
        conn.execute("CREATE SCHEMA sales")
        for name in ODD_NAMES:
            quoted = '"' + name.replace('"', '""') + '"'
            conn.execute(f"CREATE TABLE sales.{quoted} (id int NOT NULL)")
    _grant(pg_source, "sales")
    recipe = pg_source.recipe("odd-names")

    report = env.run(recipe)

    assert (report.status, report.failures, report.warnings) == ("success", [], [])
    source_names = _pg_relnames(pg_source, "sales")
    stored = _live(env, fqn.join(["pg", pg_source.database, "sales"]) + ".")
    assert sorted(fqn.split(f)[-1] for f in stored) == source_names
    assert sorted(a.doc["name"] for a in stored.values()) == source_names
    for name in source_names:  # addressable by the FQN the rules spell for it
        table = env.catalog.get("table", Key(fqn=pg_source.table("sales", name)))
        assert table.doc["name"] == name
    assert pg_source.table("sales", "trailing ") == f'pg.{pg_source.database}.sales."trailing "'

    # stale removal works again: a dropped odd table is removed, and so is an ordinary one
    with pg_source.connect() as conn:
        conn.execute('DROP TABLE sales."trailing "')
        conn.execute("DROP TABLE sales.plain")
    again = env.run(recipe)
    assert (again.status, again.deleted) == ("success", 2), again.failures
    left = _live(env, fqn.join(["pg", pg_source.database, "sales"]) + ".")
    assert sorted(a.doc["name"] for a in left.values()) == _pg_relnames(pg_source, "sales")


# -- MariaDB -----------------------------------------------------------------------------------


@dataclass
class Maria:
    schema: str

    def execute(self, *statements: str) -> None:
        conn = _maria_connect()
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql.replace("{s}", self.schema))
        finally:
            conn.close()

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = _maria_connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def recipe(self) -> Recipe:
        config = {"service": "my", "host": MARIA_HOST, "port": MARIA_PORT, "username": "root"}
        return parse_recipe(
            {
                "pipeline": "maria",
                "source": {"type": "mysql", "config": config},
                "filters": {"schemas": {"include": [self.schema]}},
                "options": {"retry": {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02}},
            }
        )

    def fqn(self, name: str) -> str:
        return fqn.join(["my", "default", self.schema, name])


@pytest.fixture
def maria(maria_server: None) -> Iterator[Maria]:
    m = Maria(f"lt{uuid.uuid4().hex[:8]}_fid")
    m.execute("CREATE DATABASE `{s}` CHARACTER SET utf8mb4")
    try:
        yield m
    finally:
        m.execute("DROP DATABASE IF EXISTS `{s}`")


def test_a_unique_key_and_a_foreign_key_may_share_a_name(
    maria: Maria,
    env: Env,  # noqa: F811
) -> None:
    maria.execute(
        "CREATE TABLE `{s}`.parent (id INT PRIMARY KEY)",
        "CREATE TABLE `{s}`.child (a INT, b INT, UNIQUE KEY k1 (a), KEY kb (b), "
        "CONSTRAINT k1 FOREIGN KEY (b) REFERENCES `{s}`.parent (id))",
    )
    report = env.run(maria.recipe())
    assert (report.status, report.failures) == ("success", [])

    in_source = maria.query(
        "SELECT k.constraint_name, t.constraint_type, k.column_name, k.referenced_table_name, "
        "k.referenced_column_name FROM information_schema.key_column_usage k "
        "JOIN information_schema.table_constraints t ON t.table_schema = k.table_schema "
        "AND t.table_name = k.table_name AND t.constraint_name = k.constraint_name "
        "AND (k.referenced_table_name IS NULL) = (t.constraint_type <> 'FOREIGN KEY') "
        "WHERE k.table_schema = %s AND k.table_name = 'child' ORDER BY 2, 3",
        maria.schema,
    )
    assert [r[1:] for r in in_source] == [
        ("FOREIGN KEY", "b", "parent", "id"),
        ("UNIQUE", "a", None, None),
    ]
    child = env.catalog.get("table", Key(fqn=maria.fqn("child"))).doc
    assert {c["name"]: c.get("constraint") for c in child["columns"]} == {"a": "unique", "b": None}
    assert child["constraints"] == [
        {
            "type": "foreign_key",
            "columns": ["b"],
            "referred_table": maria.fqn("parent"),
            "referred_columns": ["id"],
        }
    ]


def test_a_broken_mariadb_view_is_reported_and_its_last_version_kept(
    maria: Maria,
    env: Env,  # noqa: F811
) -> None:
    maria.execute(
        "CREATE TABLE `{s}`.base (x INT, y TEXT)",
        "CREATE TABLE `{s}`.other (id INT)",
        "CREATE VIEW `{s}`.v AS SELECT x, y FROM `{s}`.base",
    )
    recipe = maria.recipe()
    assert env.run(recipe).status == "success"
    first = env.catalog.get("table", Key(fqn=maria.fqn("v")))
    assert [c["name"] for c in first.doc["columns"]] == ["x", "y"]

    maria.execute("DROP TABLE `{s}`.base")
    listed = maria.query(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'v'",
        maria.schema,
    )
    assert listed == [(0,)]  # what the connector used to store as the view's columns

    report = env.run(recipe)
    assert report.status == "partial"
    assert report.units_failed == 1
    assert maria.fqn("v") in report.failures[0] and "broken" in report.failures[0]
    assert "references invalid table" in report.failures[0], report.failures  # the server's
    view = env.catalog.get("table", Key(fqn=maria.fqn("v")))
    assert view.deleted is False
    assert [c["name"] for c in view.doc["columns"]] == ["x", "y"]
    assert view.version == first.version


def test_a_broken_duckdb_view_is_reported_and_its_last_version_kept(
    env: Env,  # noqa: F811
) -> None:
    path = env.tmp / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE base (x INT, y TEXT); CREATE VIEW v AS SELECT x, y FROM base;")
    con.close()
    recipe = parse_recipe(
        {
            "pipeline": "duck",
            "source": {"type": "duckdb", "config": {"service": "d", "path": str(path)}},
        }
    )
    assert env.run(recipe).status == "success"
    v_fqn = fqn.join(["d", "shop", "main", "v"])

    con = duckdb.connect(str(path))
    con.execute("DROP TABLE base")
    # DuckDB still lists the columns the view had; only reading it fails
    assert con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'v'"
    ).fetchall() == [("x",), ("y",)]
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM v")
    con.close()

    report = env.run(recipe)
    assert report.status == "partial"
    assert report.units_failed == 1
    assert v_fqn in report.failures[0] and "base" in report.failures[0], report.failures
    view = env.catalog.get("table", Key(fqn=v_fqn))
    assert view.deleted is False
    assert view.version == 1


def test_postgres_does_not_let_a_view_break(pg_source: PgSource) -> None:  # noqa: F811
    """The promise holds on PostgreSQL by construction: a table a view reads cannot be
    dropped without dropping the view (so stale removal, not a broken view, applies)."""
    with pg_source.connect() as conn:
        conn.execute("CREATE TABLE base (x int); CREATE VIEW v AS SELECT x FROM base")
        with pytest.raises(psycopg.errors.DependentObjectsStillExist):
            conn.execute("DROP TABLE base")


# -- keys, positions and ON UPDATE as the source has them ----------------------------------------


@pytest.mark.postgres
def test_postgres_keeps_a_unique_key_on_the_primary_key_and_the_source_ordinals(
    pg_source: PgSource,  # noqa: F811
    env: Env,  # noqa: F811
) -> None:
    with pg_source.connect() as conn:
        conn.execute("CREATE SCHEMA keys")
        conn.execute("CREATE TABLE keys.accounts (id int PRIMARY KEY, a int, b int, c int)")
        # (in CREATE TABLE, PostgreSQL would drop a UNIQUE equal to the key; added later, both
        # constraints exist)
        conn.execute("ALTER TABLE keys.accounts ADD CONSTRAINT accounts_id_uq UNIQUE (id)")
        conn.execute("ALTER TABLE keys.accounts DROP COLUMN b")
    _grant(pg_source, "keys")
    recipe = pg_source.recipe("keys")
    report = env.run(recipe)
    assert (report.status, report.failures) == ("success", [])
    with pg_source.connect() as conn:
        in_source = conn.execute(
            "SELECT attname, attnum FROM pg_attribute WHERE attrelid = 'keys.accounts'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
    assert in_source == [("id", 1), ("a", 2), ("c", 4)]
    doc = env.catalog.get("table", Key(fqn=pg_source.table("keys", "accounts"))).doc
    assert [(c["name"], c["ordinal"]) for c in doc["columns"]] == in_source
    with pg_source.connect() as conn:
        kinds = conn.execute(
            "SELECT contype FROM pg_constraint WHERE conrelid = 'keys.accounts'::regclass "
            "ORDER BY 1"
        ).fetchall()
    assert kinds == [("p",), ("u",)]
    assert doc["columns"][0]["constraint"] == "primary_key"
    assert doc["constraints"] == [{"type": "unique", "columns": ["id"], "referred_columns": []}]
    # an unchanged source gives no new version (the gap is not renumbered on the next run)
    version = env.catalog.get("table", Key(fqn=pg_source.table("keys", "accounts"))).version
    assert env.run(recipe).status == "success"
    again = env.catalog.get("table", Key(fqn=pg_source.table("keys", "accounts")))
    assert again.version == version


def test_mariadb_keeps_on_update_in_the_default(
    maria: Maria,
    env: Env,  # noqa: F811
) -> None:
    maria.execute(
        "CREATE TABLE `{s}`.events (id INT PRIMARY KEY, "
        "updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp() "
        "ON UPDATE current_timestamp(), "
        "touched DATETIME NULL ON UPDATE current_timestamp(), note TEXT)"
    )
    report = env.run(maria.recipe())
    assert (report.status, report.failures) == ("success", [])
    (extra,) = maria.query(
        "SELECT extra FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'events' AND column_name = 'updated_at'",
        maria.schema,
    )
    assert "on update" in extra[0].lower()
    doc = env.catalog.get("table", Key(fqn=maria.fqn("events"))).doc
    defaults = {c["name"]: c.get("default") for c in doc["columns"]}
    assert defaults["updated_at"].lower() == "current_timestamp() on update current_timestamp()"
    assert defaults["touched"].lower() == "null on update current_timestamp()"
    assert defaults["note"] is None and defaults["id"] is None


@pytest.mark.postgres
def test_postgres_partitions_are_folded_into_their_table_with_key_and_bounds(
    pg_source: PgSource,  # noqa: F811
    env: Env,  # noqa: F811
) -> None:
    with pg_source.connect() as conn:
        conn.execute("CREATE SCHEMA parts")
        conn.execute(
            "CREATE TABLE parts.events (id int, placed_at date NOT NULL) "
            "PARTITION BY RANGE (placed_at)"
        )
        for month in ("01", "02"):
            nxt = f"{int(month) + 1:02d}"
            conn.execute(
                f"CREATE TABLE parts.events_2026_{month} PARTITION OF parts.events "
                f"FOR VALUES FROM ('2026-{month}-01') TO ('2026-{nxt}-01')"
            )
        conn.execute(
            "INSERT INTO parts.events SELECT g, date '2026-01-01' + (g % 50) "
            "FROM generate_series(1, 1000) g"
        )
        conn.execute("ANALYZE parts.events_2026_01")
        conn.execute("ANALYZE parts.events_2026_02")
        conn.execute("CREATE TABLE parts.cities (name text, population int)")
        conn.execute("CREATE TABLE parts.capitals (state char(2)) INHERITS (parts.cities)")
    _grant(pg_source, "parts")
    recipe = pg_source.recipe("parts")
    report = env.run(recipe)
    assert (report.status, report.failures) == ("success", [])

    stored = _live(env, fqn.join(["pg", pg_source.database, "parts"]) + ".")
    # partitions are no tables of their own; an INHERITS child, which may add columns, is
    assert sorted(a.doc["name"] for a in stored.values()) == ["capitals", "cities", "events"]
    events = env.catalog.get("table", Key(fqn=pg_source.table("parts", "events")))
    assert events.doc["partitioning"] == {
        "kind": "declarative",
        "key": "RANGE (placed_at)",
        "partitions": [
            {"name": "events_2026_01", "bound": "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"},
            {"name": "events_2026_02", "bound": "FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')"},
        ],
        "partition_count": 2,
    }
    cities = env.catalog.get("table", Key(fqn=pg_source.table("parts", "cities"))).doc
    assert cities["partitioning"] == {
        "kind": "inheritance",
        "partitions": [{"name": "capitals"}],
        "partition_count": 1,
    }
    # the row count of the partitioned table is its partitions' sum
    (count,) = env.catalog.observations.read(events.id, "row_count")
    assert count["value"] == {"rows": 1000}

    # unchanged: no new version; a new partition: a new version of the table, read again
    assert env.run(recipe).status == "success"
    assert env.catalog.get("table", Key(fqn=events.fqn)).version == events.version
    with pg_source.connect() as conn:
        conn.execute(
            "CREATE TABLE parts.events_2026_03 PARTITION OF parts.events "
            "FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')"
        )
        conn.execute("GRANT SELECT ON parts.events_2026_03 TO " + f'"{pg_source.role}"')
    assert env.run(recipe).status == "success"
    again = env.catalog.get("table", Key(fqn=events.fqn))
    assert again.version == events.version + 1
    assert again.doc["partitioning"]["partition_count"] == 3

    # the generic connector agrees on which tables there are
    generic = parse_recipe(
        {
            "pipeline": "parts-generic",
            "source": {
                "type": "sqlalchemy",
                "config": {"service": "pgx", "url": _url_of(pg_source)},
            },
            "filters": {"schemas": {"include": ["parts"]}},
        }
    )
    assert env.run(generic).status == "success"
    seen = _live(env, "pgx.")
    assert sorted(a.doc["name"] for a in seen.values()) == ["capitals", "cities", "events"]
