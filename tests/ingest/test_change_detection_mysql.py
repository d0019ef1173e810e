"""Change detection in MySQL/MariaDB (issue 3): the source hashes each relation's
information_schema rows, and a run reads again only the relations whose hash moved since their
unit was committed.

Each test ingests a fresh MariaDB schema into an embedded catalog in tmp_path. What the
connector extracted is counted by wrapping its two real read methods (`read_schema` and
`read_relations`), so "not read again" is observed, not inferred from timings.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lodestar.catalog import Catalog, Key
from lodestar.ingest.connectors.mysql import MySQLSource
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.report import RunReport
from lodestar.ingest.service import run_recipe
from lodestar.model import fqn
from lodestar.settings import Settings
from lodestar.store import open_store

from .change_support import column, column_names, count_reads, doc, foreign_key, row_counts
from .conftest import MARIA_HOST, MARIA_PORT, _maria_connect

# Names that information_schema compares as equal (case, accents) but MariaDB keeps apart.
RELATIONS = ["Mix", "big_orders", "cafe", "café", "customers", "mix", "notes", "orders"]


def _shop_ddl(s: str) -> list[str]:
    return [
        f"CREATE DATABASE `{s}` CHARACTER SET utf8mb4",
        f"""CREATE TABLE `{s}`.customers (
            id INT NOT NULL PRIMARY KEY,
            email VARCHAR(255) NOT NULL UNIQUE COMMENT 'where receipts go',
            joined DATE DEFAULT '2024-01-01',
            kind ENUM('retail', 'trade') DEFAULT 'retail'
        ) ENGINE=InnoDB COMMENT='people who buy things'""",
        f"""CREATE TABLE `{s}`.orders (
            id INT NOT NULL PRIMARY KEY,
            customer_id INT NOT NULL,
            amount DECIMAL(12, 2),
            CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)
        ) ENGINE=InnoDB""",
        f"CREATE TABLE `{s}`.notes (id INT, body VARCHAR(100)) ENGINE=InnoDB",
        f"CREATE TABLE `{s}`.`Mix` (a INT)",
        f"CREATE TABLE `{s}`.`mix` (a INT)",
        f"CREATE TABLE `{s}`.`café` (a INT)",
        f"CREATE TABLE `{s}`.`cafe` (a INT)",
        f"CREATE VIEW `{s}`.big_orders AS SELECT id, amount FROM `{s}`.orders WHERE amount > 100",
        f"INSERT INTO `{s}`.customers (id, email) VALUES (1, 'ann@example.com')",
        f"INSERT INTO `{s}`.notes VALUES (1, 'first')",
        f"ANALYZE TABLE `{s}`.customers, `{s}`.notes",
    ]


@dataclass
class Shop:
    """A MariaDB schema, an embedded catalog, and what each run extracted."""

    schema: str
    settings: Settings
    catalog: Catalog
    extracted: list[str] = field(default_factory=list)  # relation names, in read order

    def execute(self, *statements: str) -> None:
        conn = _maria_connect()
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql.replace("{s}", self.schema))
                    cur.fetchall()
        finally:
            conn.close()

    def run(self, **options: Any) -> RunReport:
        options.setdefault("retry", {"attempts": 2, "base_delay": 0.01, "max_delay": 0.02})
        config = {"service": "my", "host": MARIA_HOST, "port": MARIA_PORT, "username": "root"}
        recipe = parse_recipe(
            {
                "pipeline": "shop",
                "source": {"type": "mysql", "config": config},
                "filters": {"schemas": {"include": [self.schema]}},
                "options": options,
            }
        )
        self.extracted.clear()
        return run_recipe(recipe, self.settings)

    def fqn(self, name: str) -> str:
        return fqn.join(["my", "default", self.schema, name])

    def doc(self, name: str, kind: str = "table") -> dict[str, Any]:
        return doc(self, name, kind)

    def column(self, table: str, name: str) -> dict[str, Any]:
        return column(self, table, name)


@pytest.fixture
def shop(maria_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.delenv("LODESTAR_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings.effective_database_url)
    shop = Shop(f"lt{uuid.uuid4().hex[:8]}_shop", settings, Catalog(store))

    count_reads(monkeypatch, MySQLSource, shop.extracted)
    try:
        shop.execute(*_shop_ddl(shop.schema))
        yield shop
    finally:
        store.dispose()
        shop.execute(f"DROP DATABASE IF EXISTS `{shop.schema}`")


def test_an_unchanged_source_is_not_read_again(shop: Shop) -> None:
    first = shop.run()
    assert first.status == "success", first.failures
    assert sorted(shop.extracted) == RELATIONS
    # the names information_schema would confuse are kept apart
    assert [c["name"] for c in shop.doc("café")["columns"]] == ["a"]
    assert shop.doc("Mix")["name"] == "Mix" and shop.doc("mix")["name"] == "mix"
    cursor = shop.catalog.last_event()

    second = shop.run()

    assert second.status == "success", second.failures
    assert shop.extracted == []  # not one relation read again
    assert (second.updated, second.deleted, second.units_not_extracted) == (0, 0, 8)
    assert second.observations == 0
    assert shop.catalog.last_event() == cursor  # no new version of anything


@dataclass(frozen=True)
class Change:
    sql: str
    read_again: list[str]  # relations the next run must read, and only those
    check: Callable[[Shop, RunReport], bool]  # what the catalog shows afterwards
    updated: int = 1  # assets the next run updates
    relations: int = 8  # relations the source has afterwards


CHANGES = {
    "column added": Change(
        "ALTER TABLE `{s}`.notes ADD COLUMN author TEXT",
        ["notes"],
        lambda s, r: column_names(s, "notes") == ["id", "body", "author"],
    ),
    "column type changed": Change(
        "ALTER TABLE `{s}`.notes MODIFY body VARCHAR(200)",
        ["notes"],
        lambda s, r: s.column("notes", "body")["data_type"] == "varchar(200)",
    ),
    "column default changed": Change(
        "ALTER TABLE `{s}`.customers ALTER joined SET DEFAULT '2024-06-01'",
        ["customers"],
        lambda s, r: "2024-06-01" in s.column("customers", "joined")["default"],
    ),
    "column comment changed": Change(
        "ALTER TABLE `{s}`.customers MODIFY email VARCHAR(255) NOT NULL COMMENT 'login name'",
        ["customers"],
        lambda s, r: s.column("customers", "email")["description"] == "login name",
    ),
    "nullability changed": Change(
        "ALTER TABLE `{s}`.notes MODIFY id INT NOT NULL",
        ["notes"],
        lambda s, r: s.column("notes", "id")["nullable"] is False,
    ),
    "column renamed": Change(
        "ALTER TABLE `{s}`.notes RENAME COLUMN body TO text_body",
        ["notes"],
        lambda s, r: column_names(s, "notes") == ["id", "text_body"],
    ),
    "column order changed": Change(
        "ALTER TABLE `{s}`.notes MODIFY id INT AFTER body",
        ["notes"],
        lambda s, r: column_names(s, "notes") == ["body", "id"],
    ),
    "table comment changed": Change(
        "ALTER TABLE `{s}`.customers COMMENT = 'buyers'",
        ["customers"],
        lambda s, r: s.doc("customers")["description"] == "buyers",
    ),
    "view SQL changed": Change(
        "CREATE OR REPLACE VIEW `{s}`.big_orders AS "
        "SELECT id, amount FROM `{s}`.orders WHERE amount > 500",
        ["big_orders"],
        lambda s, r: "500" in s.doc("big_orders")["view_sql"],
    ),
    "unique key added": Change(
        "ALTER TABLE `{s}`.notes ADD UNIQUE KEY notes_body_key (body)",
        ["notes"],
        lambda s, r: s.column("notes", "body").get("constraint") == "unique",
    ),
    "foreign key added": Change(
        "ALTER TABLE `{s}`.notes ADD COLUMN customer_id INT, "
        "ADD CONSTRAINT notes_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)",
        ["notes"],
        lambda s, r: foreign_key(s, "notes")["referred_table"] == s.fqn("customers"),
    ),
    "referenced table renamed": Change(
        "RENAME TABLE `{s}`.customers TO `{s}`.clients",
        ["clients", "orders"],
        lambda s, r: (
            foreign_key(s, "orders")["referred_table"] == s.fqn("clients")
            and (r.created, r.deleted) == (1, 1)
            and s.catalog.get("table", Key(fqn=s.fqn("customers"))).deleted
        ),
    ),
    "one of two names that differ in case changed": Change(
        "ALTER TABLE `{s}`.`mix` ADD COLUMN b INT",
        ["mix"],
        lambda s, r: column_names(s, "mix") == ["a", "b"] and column_names(s, "Mix") == ["a"],
    ),
    "one of two names that differ in accents changed": Change(
        "ALTER TABLE `{s}`.`cafe` ADD COLUMN b INT",
        ["cafe"],
        lambda s, r: column_names(s, "cafe") == ["a", "b"] and column_names(s, "café") == ["a"],
    ),
    "table dropped": Change(
        "DROP TABLE `{s}`.notes",
        [],
        lambda s, r: r.deleted == 1 and s.catalog.get("table", Key(fqn=s.fqn("notes"))).deleted,
        updated=0,
        relations=7,
    ),
    "table created": Change(
        "CREATE TABLE `{s}`.refunds (id INT PRIMARY KEY, amount DECIMAL(12, 2))",
        ["refunds"],
        lambda s, r: r.created == 1 and column_names(s, "refunds") == ["id", "amount"],
        updated=0,
        relations=9,
    ),
    "row count statistic changed": Change(
        "INSERT INTO `{s}`.notes SELECT seq, 'x' FROM `{s}`.seq_2_to_50; ANALYZE TABLE `{s}`.notes",
        ["notes"],
        lambda s, r: r.observations == 1 and row_counts(s, "notes")[0] > 1,
        updated=0,
    ),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_each_kind_of_change_is_read_again(shop: Shop, change: Change) -> None:
    assert shop.run().status == "success"

    shop.execute(*change.sql.split("; "))
    report = shop.run()

    assert report.status == "success", report.failures
    assert sorted(shop.extracted) == change.read_again
    assert report.units == change.relations + 1  # and the schema's unit
    # every other relation was skipped without being read
    assert report.units_not_extracted == change.relations - len(change.read_again)
    assert report.updated == change.updated
    assert change.check(shop, report), change.sql


def test_sampled_tables_are_read_every_run_views_are_not(shop: Shop) -> None:
    assert shop.run(sample_data=True).status == "success"
    second = shop.run(sample_data=True)
    assert second.status == "success", second.failures
    assert sorted(shop.extracted) == [n for n in RELATIONS if n != "big_orders"]
    assert second.units_not_extracted == 1
