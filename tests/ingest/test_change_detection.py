"""Change detection in the source (issue 3): PostgreSQL hashes each relation's catalog, and a run
reads again only the relations whose hash moved since their unit was committed.

Each test ingests a fresh PostgreSQL database into an embedded catalog in tmp_path. What the
connector extracted is counted by wrapping its two real read methods (`read_schema` and
`read_relations`), so "not read again" is observed, not inferred from timings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.ingest.connectors.postgres import PostgresSource
from lodestar.ingest.connectors.sql_common import TableMeta
from lodestar.ingest.errors import PermanentError
from lodestar.ingest.recipe import Recipe, parse_recipe
from lodestar.ingest.report import RunReport
from lodestar.ingest.service import run_recipe
from lodestar.model import fqn
from lodestar.settings import Settings
from lodestar.store import open_store

from .change_support import column, column_names, count_reads, doc, foreign_key, row_counts

pytestmark = pytest.mark.postgres

ALICE = WriteContext.for_principal(Principal("alice", "steward"))

SHOP = """
CREATE SCHEMA shop;
CREATE SEQUENCE shop.order_no;
CREATE TYPE shop.mood AS ENUM ('ok', 'meh');
CREATE TABLE shop.customers (
    id int PRIMARY KEY,
    email text NOT NULL,
    mood shop.mood,
    joined date DEFAULT '2020-01-01'
);
COMMENT ON TABLE shop.customers IS 'people';
COMMENT ON COLUMN shop.customers.email IS 'where receipts go';
CREATE TABLE shop.orders (
    id int PRIMARY KEY DEFAULT nextval('shop.order_no'),
    customer_id int REFERENCES shop.customers (id),
    amount numeric(10,2)
);
CREATE TABLE shop.notes (id int, body text);
CREATE VIEW shop.big_orders AS SELECT id, amount FROM shop.orders WHERE amount > 100;
CREATE MATERIALIZED VIEW shop.totals AS
    SELECT customer_id, sum(amount) AS total FROM shop.orders GROUP BY customer_id;
INSERT INTO shop.customers VALUES (1, 'a@example.com', 'ok');
INSERT INTO shop.notes VALUES (1, 'first');
ANALYZE;
"""
RELATIONS = ["big_orders", "customers", "notes", "orders", "totals"]


@dataclass
class Shop:
    """A PostgreSQL source database, an embedded catalog, and what each run extracted."""

    server: Any  # tests/conftest.py PgServer
    database: str
    settings: Settings
    catalog: Catalog
    extracted: list[str] = field(default_factory=list)  # relation names, in read order
    hashed: int = 0  # relation_digests calls: databases whose relations were hashed
    after_stamp: str | None = None  # SQL run right after the catalog stamp is taken

    def execute(self, sql: str) -> None:
        url = self.server.url.set(drivername="postgresql", database=self.database)
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(sql)

    def recipe(self, **options: Any) -> Recipe:
        options.setdefault("retry", {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02})
        config = {
            "service": "pg",
            "host": self.server.url.host or "127.0.0.1",
            "port": self.server.url.port or 5432,
            "username": self.server.url.username or "postgres",
            "database": self.database,
        }
        source = {"type": "postgres", "config": config}
        return parse_recipe({"pipeline": "shop", "source": source, "options": options})

    def run(self, **options: Any) -> RunReport:
        self.extracted.clear()
        self.hashed = 0
        return run_recipe(self.recipe(**options), self.settings)

    def fqn(self, name: str) -> str:
        return fqn.join(["pg", self.database, "shop", name])

    def doc(self, name: str, kind: str = "table") -> dict[str, Any]:
        return doc(self, name, kind)

    def column(self, table: str, name: str) -> dict[str, Any]:
        return column(self, table, name)


@pytest.fixture
def shop(pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.delenv("LODESTAR_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings.effective_database_url)
    name = pg_server.create_database()
    shop = Shop(pg_server, name, settings, Catalog(store))

    relation_digests = PostgresSource.relation_digests
    catalog_stamp = PostgresSource.catalog_stamp

    def counted_digests(self: PostgresSource, conn: Any, database: str, schemas: Any) -> Any:
        shop.hashed += 1
        return relation_digests(self, conn, database, schemas)

    def racing_stamp(self: PostgresSource, conn: Any, database: str, schemas: Any) -> Any:
        stamped = catalog_stamp(self, conn, database, schemas)
        if shop.after_stamp is not None:
            shop.execute(shop.after_stamp)
            shop.after_stamp = None
        return stamped

    count_reads(monkeypatch, PostgresSource, shop.extracted)
    monkeypatch.setattr(PostgresSource, "relation_digests", counted_digests)
    monkeypatch.setattr(PostgresSource, "catalog_stamp", racing_stamp)
    try:
        shop.execute(SHOP)
        yield shop
    finally:
        store.dispose()
        pg_server.drop_database(name)


def test_an_unchanged_source_is_not_read_again(shop: Shop) -> None:
    first = shop.run()
    assert first.status == "success", first.failures
    assert sorted(shop.extracted) == RELATIONS
    # service, database, schemas public and shop, five relations; a unit per schema
    assert (first.created, first.units, first.units_not_extracted) == (9, 7, 0)
    cursor = shop.catalog.last_event()

    second = shop.run()

    assert second.status == "success", second.failures
    assert shop.extracted == []  # not one relation read again
    assert (second.created, second.updated, second.unchanged, second.deleted) == (0, 0, 9, 0)
    assert (second.units, second.units_skipped, second.units_not_extracted) == (7, 7, 5)
    assert second.observations == 0
    assert shop.catalog.last_event() == cursor  # no new version of anything

    # a third run still skips: what the second kept is what the first committed
    third = shop.run()
    assert (shop.extracted, third.units_not_extracted, third.updated) == ([], 5, 0)


@dataclass(frozen=True)
class Change:
    sql: str
    read_again: list[str]  # relations the next run must read, and only those
    check: Callable[[Shop, RunReport], bool]  # what the catalog shows afterwards
    updated: int = 1  # assets the next run updates
    relations: int = 5  # relations the source has afterwards


def _fk_target(shop: Shop, table: str) -> tuple[str, list[str]]:
    fk = foreign_key(shop, table)
    return fk["referred_table"], fk["referred_columns"]


CHANGES = {
    "column added": Change(
        "ALTER TABLE shop.notes ADD COLUMN author text",
        ["notes"],
        lambda s, r: column_names(s, "notes") == ["id", "body", "author"],
    ),
    "column type changed": Change(
        "ALTER TABLE shop.notes ALTER COLUMN body TYPE varchar(200)",
        ["notes"],
        lambda s, r: s.column("notes", "body")["data_type"] == "character varying(200)",
    ),
    "column default changed": Change(
        "ALTER TABLE shop.customers ALTER COLUMN joined SET DEFAULT '2024-06-01'",
        ["customers"],
        lambda s, r: "2024-06-01" in s.column("customers", "joined")["default"],
    ),
    "column comment changed": Change(
        "COMMENT ON COLUMN shop.customers.email IS 'login name'",
        ["customers"],
        lambda s, r: s.column("customers", "email")["description"] == "login name",
    ),
    "column comment added": Change(
        "COMMENT ON COLUMN shop.notes.body IS 'free text'",
        ["notes"],
        lambda s, r: s.column("notes", "body")["description"] == "free text",
    ),
    "nullability changed": Change(
        "ALTER TABLE shop.notes ALTER COLUMN id SET NOT NULL",
        ["notes"],
        lambda s, r: s.column("notes", "id")["nullable"] is False,
    ),
    "column renamed": Change(
        "ALTER TABLE shop.notes RENAME COLUMN body TO text_body",
        ["notes"],
        lambda s, r: column_names(s, "notes") == ["id", "text_body"],
    ),
    "column order changed": Change(
        "ALTER TABLE shop.notes DROP COLUMN id; ALTER TABLE shop.notes ADD COLUMN id int",
        ["notes"],
        lambda s, r: column_names(s, "notes") == ["body", "id"],
    ),
    "table comment changed": Change(
        "COMMENT ON TABLE shop.customers IS 'buyers'",
        ["customers"],
        lambda s, r: s.doc("customers")["description"] == "buyers",
    ),
    "view SQL changed": Change(
        "CREATE OR REPLACE VIEW shop.big_orders AS "
        "SELECT id, amount FROM shop.orders WHERE amount > 500",
        ["big_orders"],
        lambda s, r: "500" in s.doc("big_orders")["view_sql"],
    ),
    "constraint added": Change(
        "ALTER TABLE shop.notes ADD CONSTRAINT notes_body_key UNIQUE (body)",
        ["notes"],
        lambda s, r: s.column("notes", "body").get("constraint") == "unique",
    ),
    "referenced table renamed": Change(
        "ALTER TABLE shop.customers RENAME TO clients",
        ["clients", "orders"],
        lambda s, r: (
            _fk_target(s, "orders")[0] == s.fqn("clients")
            and (r.created, r.deleted) == (1, 1)
            and s.catalog.get("table", Key(fqn=s.fqn("customers"))).deleted
        ),
    ),
    "referenced column renamed": Change(
        "ALTER TABLE shop.customers RENAME COLUMN id TO customer_no",
        ["customers", "orders"],
        lambda s, r: _fk_target(s, "orders")[1] == ["customer_no"],
        updated=2,
    ),
    "column's type renamed": Change(
        "ALTER TYPE shop.mood RENAME TO feeling",
        ["customers"],
        lambda s, r: s.column("customers", "mood")["data_type"] == "shop.feeling",
    ),
    "sequence of a default renamed": Change(
        "ALTER SEQUENCE shop.order_no RENAME TO order_seq",
        ["orders"],
        lambda s, r: "order_seq" in s.column("orders", "id")["default"],
    ),
    "column a view reads renamed": Change(
        "ALTER TABLE shop.orders RENAME COLUMN amount TO net_amount",
        ["big_orders", "orders", "totals"],
        lambda s, r: "net_amount" in s.doc("big_orders")["view_sql"],
        updated=3,
    ),
    "table dropped": Change(
        "DROP TABLE shop.notes",
        [],
        lambda s, r: r.deleted == 1 and s.catalog.get("table", Key(fqn=s.fqn("notes"))).deleted,
        updated=0,
        relations=4,
    ),
    "table created": Change(
        "CREATE TABLE shop.refunds (id int PRIMARY KEY, amount numeric)",
        ["refunds"],
        lambda s, r: r.created == 1 and column_names(s, "refunds") == ["id", "amount"],
        updated=0,
        relations=6,
    ),
    "row count statistic changed": Change(
        "INSERT INTO shop.notes SELECT g, 'x' FROM generate_series(2, 50) g; ANALYZE shop.notes",
        ["notes"],
        lambda s, r: r.observations == 1 and row_counts(s, "notes") == [50, 1],
        updated=0,
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_each_kind_of_change_is_read_again(shop: Shop, change: Change) -> None:
    assert shop.run().status == "success"

    shop.execute(change.sql)
    report = shop.run()

    assert report.status == "success", report.failures
    assert sorted(shop.extracted) == change.read_again
    assert report.units == change.relations + 2  # and the units of schemas public and shop
    # every other relation was skipped without being read
    assert report.units_not_extracted == change.relations - len(change.read_again)
    assert report.updated == change.updated
    assert change.check(shop, report), change.sql


def test_sampled_tables_are_read_every_run_views_are_not(shop: Shop) -> None:
    """Sample rows are data: no catalog hash says whether they changed."""
    assert shop.run(sample_data=True).status == "success"

    again = shop.run(sample_data=True)
    sampled = ["customers", "notes", "orders", "totals"]  # tables and the materialized view
    assert sorted(shop.extracted) == sampled
    assert (again.units_skipped, again.units_not_extracted, again.updated) == (7, 1, 0)

    shop.execute("INSERT INTO shop.notes VALUES (2, 'second')")
    changed = shop.run(sample_data=True)
    assert (changed.updated, changed.units_not_extracted) == (1, 1)
    assert shop.doc("notes")["sample_data"]["rows"] == [[1, "first"], [2, "second"]]

    # turning sampling off changes every unit: each is read once more, then skipped again
    assert shop.run().units_not_extracted == 0
    assert sorted(shop.extracted) == RELATIONS
    assert shop.run().units_not_extracted == 5


def test_a_relation_that_failed_is_read_again_until_it_is_stored(shop: Shop) -> None:
    """A unit that failed keeps the fingerprint of what was last stored, so a failed or partial
    run never makes the next one skip it."""
    assert shop.run().status == "success"

    # PostgreSQL takes more table constraints than the catalog keeps (256)
    shop.execute(
        "ALTER TABLE shop.notes ADD COLUMN padded int;"
        + "".join(
            f"ALTER TABLE shop.notes ADD CONSTRAINT u{i} UNIQUE (id, padded);" for i in range(257)
        )
    )
    failed = shop.run()
    assert (failed.status, failed.units_failed) == ("partial", 1)
    assert shop.fqn("notes") in failed.failures[0]
    assert shop.extracted == ["notes"]

    # nothing changed in the source since: the failed relation is read (and fails) again
    again = shop.run()
    assert (again.status, again.units_failed, shop.extracted) == ("partial", 1, ["notes"])
    assert again.units_not_extracted == 4

    shop.execute("".join(f"ALTER TABLE shop.notes DROP CONSTRAINT u{i};" for i in range(257)))
    fixed = shop.run()
    assert (fixed.status, fixed.updated, shop.extracted) == ("success", 1, ["notes"])
    assert column_names(shop, "notes") == ["id", "body", "padded"]
    assert (shop.run().units_not_extracted, shop.extracted) == (5, [])


def test_an_asset_deleted_by_hand_is_read_and_sent_again(shop: Shop) -> None:
    assert shop.run().status == "success"
    shop.catalog.delete("table", Key(fqn=shop.fqn("notes")), ALICE)

    report = shop.run()

    assert shop.extracted == ["notes"]
    assert report.units_not_extracted == 4
    assert shop.catalog.get("table", Key(fqn=shop.fqn("notes"))).deleted is False


def test_human_edits_survive_skipped_and_changed_runs(shop: Shop) -> None:
    assert shop.run().status == "success"
    shop.catalog.patch(
        "table",
        Key(fqn=shop.fqn("customers")),
        {"description": "Everyone who ever bought."},
        ALICE,
        json_patch=False,
    )
    assert shop.run().units_not_extracted == 5
    assert shop.doc("customers")["description"] == "Everyone who ever bought."

    shop.execute(
        "COMMENT ON TABLE shop.customers IS 'people v2'; "
        "ALTER TABLE shop.customers ADD COLUMN phone text"
    )
    report = shop.run()
    assert (shop.extracted, report.updated) == (["customers"], 1)
    doc = shop.doc("customers")
    assert doc["description"] == "Everyone who ever bought."
    assert column_names(shop, "customers")[-1] == "phone"


def test_a_changed_option_reads_everything_once(shop: Shop) -> None:
    assert shop.run().status == "success"
    without_counts = shop.run(row_counts=False)
    assert sorted(shop.extracted) == RELATIONS
    assert without_counts.observations == 0
    assert shop.run(row_counts=False).units_not_extracted == 5


def test_an_unchanged_database_is_not_even_hashed(shop: Shop) -> None:
    first = shop.run()
    assert first.status == "success", first.failures
    assert shop.hashed == 1  # no stamp committed yet: every relation is hashed

    second = shop.run()
    assert (shop.hashed, shop.extracted, second.units_not_extracted) == (0, [], 5)
    assert (second.units, second.units_skipped, second.updated) == (7, 7, 0)
    third = shop.run()
    assert (shop.hashed, shop.extracted, third.units_not_extracted) == (0, [], 5)


def test_the_stamp_stays_put_while_other_transactions_come_and_go(shop: Shop) -> None:
    # The stamp sums xids through age(), which counts from the newest xid: it must come out the
    # same after the server has handed out more transaction ids without changing any catalog.
    shop.run()
    for _ in range(30):
        shop.execute("SELECT txid_current()")  # each one takes a transaction id

    report = shop.run()
    assert (shop.hashed, shop.extracted, report.units_not_extracted) == (0, [], 5)


def _ingest_connections(shop: Shop) -> int:
    url = shop.server.url.set(drivername="postgresql", database=shop.database)
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'lodestar-ingest'",
            (shop.database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_runs_share_an_engine_and_leave_no_connection_open(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    make_engine = PostgresSource.make_engine

    def counted(self: PostgresSource, database: str) -> Any:
        made.append(database)
        return make_engine(self, database)

    monkeypatch.setattr(PostgresSource, "make_engine", counted)
    shop.run()
    assert _ingest_connections(shop) == 0
    shop.run()
    shop.run()
    assert made == [shop.database]  # the dialect is set up once per process, not per run
    assert _ingest_connections(shop) == 0

    # Another config (here another password: trust auth takes any) gets an engine of its own.
    monkeypatch.setenv("SHOP_PASSWORD", "another")
    recipe = shop.recipe()
    recipe.source.config["password"] = "${SHOP_PASSWORD}"
    assert run_recipe(recipe, shop.settings).status == "success"
    assert made == [shop.database, shop.database]
    assert _ingest_connections(shop) == 0


def test_a_stamp_that_fails_means_hashing_with_a_warning(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.run()

    def failing(self: PostgresSource, conn: Any, database: str, schemas: Any) -> Any:
        raise PermanentError("permission denied for table pg_attribute")

    monkeypatch.setattr(PostgresSource, "catalog_stamp", failing)
    report = shop.run()  # the stamp is taken in the background, while the run loads its state

    assert report.status == "success", report.failures
    assert (shop.hashed, shop.extracted, report.updated) == (1, [], 0)
    (warning,) = [w for w in report.warnings if "stamp" in w]
    assert "every relation is hashed" in warning and "pg_attribute" in warning


def test_a_run_that_fails_before_reading_waits_for_its_stamp_and_closes(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lodestar.catalog import CatalogError
    from lodestar.ingest.sinks import CatalogSink

    shop.run()

    def broken(self: CatalogSink, pairs: Any) -> Any:
        raise CatalogError("the catalog went away")

    monkeypatch.setattr(CatalogSink, "live", broken)
    report = shop.run()

    assert report.status == "failed" and "went away" in report.failures[0]
    assert shop.extracted == []
    assert _ingest_connections(shop) == 0


def test_any_catalog_change_brings_the_hashes_back_for_one_run(shop: Shop) -> None:
    shop.run()
    shop.execute("CREATE INDEX ON shop.notes (id)")  # a catalog change no relation shows

    report = shop.run()
    assert (shop.hashed, shop.extracted, report.updated) == (1, [], 0)
    shop.run()
    assert (shop.hashed, shop.extracted) == (0, [])


def test_a_change_just_after_a_matching_stamp_is_read_by_the_next_run(shop: Shop) -> None:
    shop.run()
    shop.run()  # the stamp is committed and matches
    assert shop.hashed == 0
    shop.after_stamp = "COMMENT ON COLUMN shop.notes.body IS 'what was said'"

    racing = shop.run()  # stamped before the comment: this run cannot know of it
    assert (racing.status, shop.hashed, shop.extracted) == ("success", 0, [])

    shop.run()  # the stamp moved: hashed, and notes read
    assert (shop.hashed, shop.extracted) == (1, ["notes"])
    assert shop.column("notes", "body")["description"] == "what was said"
    shop.run()
    assert (shop.hashed, shop.extracted) == (0, [])


def test_a_change_between_stamp_and_hashes_is_read_and_hashed_again_later(shop: Shop) -> None:
    shop.run()
    shop.execute("CREATE INDEX ON shop.notes (id)")  # the next stamp will not match
    shop.after_stamp = "COMMENT ON COLUMN shop.notes.body IS 'what was said'"

    racing = shop.run()  # stamped before the comment, hashed after it
    assert (racing.status, shop.hashed, shop.extracted) == ("success", 1, ["notes"])
    assert shop.column("notes", "body")["description"] == "what was said"

    shop.run()  # its marker holds the older stamp: hashed again, nothing to read
    assert (shop.hashed, shop.extracted) == (1, [])
    shop.run()
    assert (shop.hashed, shop.extracted) == (0, [])


def test_a_relation_that_failed_keeps_its_database_hashed(shop: Shop) -> None:
    shop.run()
    shop.execute("COMMENT ON TABLE shop.notes IS 'jotted down'")
    real = PostgresSource.read_relations

    def failing(self: PostgresSource, conn: Any, database: str, schema: str, names: Any) -> Any:
        tables: list[TableMeta] = real(self, conn, database, schema, names)
        for t in tables:
            if t.name == "notes":
                t.error = "could not read it this time"
        return tables

    PostgresSource.read_relations = failing  # type: ignore[method-assign]
    try:
        failed = shop.run()
    finally:
        PostgresSource.read_relations = real  # type: ignore[method-assign]
    assert failed.units_failed == 1
    # The stamp has not moved since, but notes was not committed as the hashes saw it.
    again = shop.run()
    assert (shop.hashed, shop.extracted, again.updated) == (1, ["notes"], 1)
    assert shop.doc("notes")["description"] == "jotted down"


def test_renaming_a_function_a_view_calls_is_read_again(shop: Shop) -> None:
    shop.execute(
        "CREATE FUNCTION shop.cents(numeric) RETURNS bigint LANGUAGE sql IMMUTABLE "
        "AS 'SELECT ($1 * 100)::bigint';"
        "CREATE VIEW shop.order_cents AS SELECT id, shop.cents(amount) AS cents FROM shop.orders"
    )
    shop.run()
    shop.run()
    assert (shop.hashed, shop.extracted) == (0, [])  # the stamp is committed and matches

    shop.execute("ALTER FUNCTION shop.cents(numeric) RENAME TO to_cents")
    shop.run()
    assert (shop.hashed, shop.extracted) == (1, ["order_cents"])
    assert "to_cents" in shop.doc("order_cents")["view_sql"]
