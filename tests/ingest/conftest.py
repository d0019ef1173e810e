"""Source databases for the connector tests: the same small shop ("zoo") on every system.

Each zoo has a table with a composite primary key, a unique constraint and a foreign key, table
and column comments where the system keeps them, a view (and on PostgreSQL a materialized view),
columns of many types and unusual names: quotes, dots, unicode, reserved words, mixed case.

PostgreSQL (127.0.0.1:5432, user postgres) and MariaDB (127.0.0.1:3306, root without password)
get a fresh database per test module. When a server cannot be reached its tests are skipped,
except under CI (env CI set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MARIA_HOST = "127.0.0.1"
MARIA_PORT = 3306
MARIA_HINT = (
    "MariaDB not reachable on 127.0.0.1:3306 as root: start it with "
    "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
)
LONG_NOTE = "n" * 300

PG_ZOO = """
CREATE SCHEMA sales;
COMMENT ON SCHEMA sales IS 'Orders and customers';
CREATE SCHEMA "Odd.Names";
CREATE TABLE sales.customers (
    id integer PRIMARY KEY,
    email character varying(255) NOT NULL UNIQUE,
    "FullName" text,
    balance numeric(12,2) DEFAULT 0.00 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    tags text[],
    profile jsonb,
    uid uuid,
    active boolean DEFAULT true,
    photo bytea,
    score double precision,
    born date,
    nick character(3),
    notes text,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    doubled integer GENERATED ALWAYS AS (id * 2) STORED
);
COMMENT ON TABLE sales.customers IS 'People who buy things';
COMMENT ON COLUMN sales.customers.email IS 'Where receipts go';
CREATE TABLE sales.orders (
    customer_id integer NOT NULL REFERENCES sales.customers (id),
    order_no integer NOT NULL,
    "select" text,
    "order" smallint,
    amount numeric(12,2),
    placed_at timestamp without time zone,
    PRIMARY KEY (customer_id, order_no),
    CONSTRAINT orders_select_order_key UNIQUE ("select", "order")
);
CREATE TABLE sales.order_lines (
    customer_id integer,
    order_no integer,
    line integer,
    sku text,
    PRIMARY KEY (customer_id, order_no, line),
    FOREIGN KEY (customer_id, order_no) REFERENCES sales.orders (customer_id, order_no)
);
CREATE VIEW sales.big_orders AS
    SELECT customer_id, order_no, amount FROM sales.orders WHERE amount > 100;
COMMENT ON VIEW sales.big_orders IS 'Orders over 100';
CREATE MATERIALIZED VIEW sales.totals AS
    SELECT customer_id, sum(amount) AS total FROM sales.orders GROUP BY customer_id;
CREATE TABLE "Odd.Names"."we""ird" ("a.b" integer PRIMARY KEY, "MixedCase" varchar(10));
CREATE TABLE "Odd.Names"."a.b" ("select" integer, "order" integer);
CREATE TABLE "Odd.Names"."café" ("表" text, "Straße" numeric);
CREATE TABLE "Odd.Names"."表" (
    id bigserial PRIMARY KEY,
    customer integer REFERENCES sales.customers (id),
    w integer REFERENCES "Odd.Names"."we""ird" ("a.b")
);
CREATE TABLE "Odd.Names"."CamelCase" ("Id" integer);
INSERT INTO sales.customers (id, email, "FullName", balance, created_at, tags, profile, uid,
                             photo, score, born, nick, notes)
VALUES (1, 'ann@example.com', 'Ann Smith', 12.50, '2024-05-01 10:00:00+00', '{a,b}',
        '{"k": 1}', '0b7ea3c5-3f3c-4b46-9c64-7c2b27d0ad55', '\\x0102ff', 1.5, '1990-01-02',
        'abc', '%(long)s'),
       (2, 'bob@example.com', 'Bob Jones', 0, '2024-05-02 11:30:00+00', NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, 'short');
INSERT INTO sales.orders VALUES (1, 1, 'x', 1, 150.00, '2024-05-03 09:00:00'),
                                (1, 2, 'y', 2, 20.00, NULL);
INSERT INTO "Odd.Names"."we""ird" VALUES (7, 'Mixed');
REFRESH MATERIALIZED VIEW sales.totals;
ANALYZE;
""" % {"long": LONG_NOTE}  # noqa: UP031 - the SQL is full of braces


@dataclass
class PgZoo:
    server: Any  # the root conftest's PgServer
    database: str
    reader: str  # a role that may read everything but sales.orders


@pytest.fixture(scope="module")
def pg_zoo(pg_server: Any) -> Iterator[PgZoo]:
    name = pg_server.create_database()
    reader = f"lodestar_reader_{uuid.uuid4().hex[:12]}"
    try:
        import psycopg

        libpq = pg_server.url.set(drivername="postgresql", database=name)
        with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(PG_ZOO)
            conn.execute(f'CREATE ROLE "{reader}" LOGIN')
            conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{reader}"')
            conn.execute(f'GRANT USAGE ON SCHEMA sales, "Odd.Names" TO "{reader}"')
            conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA sales, "Odd.Names" TO "{reader}"')
            conn.execute(f'REVOKE SELECT ON sales.orders FROM "{reader}"')
        yield PgZoo(pg_server, name, reader)
    finally:
        pg_server.drop_database(name)
        with pg_server.admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{reader}"')


# -- MariaDB -----------------------------------------------------------------------------------


def _maria_connect() -> Any:
    import pymysql

    return pymysql.connect(
        host=MARIA_HOST,
        port=MARIA_PORT,
        user="root",
        password="",
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=3,
    )


def _start_mariadb() -> None:
    daemon = shutil.which("start-stop-daemon")
    if daemon is None or not Path("/usr/sbin/mariadbd").exists():
        return
    subprocess.run(
        [daemon, "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
        check=False,
        capture_output=True,
        timeout=30,
    )


@pytest.fixture(scope="session")
def maria_server() -> None:
    import pymysql

    try:
        _maria_connect().close()
        return
    except pymysql.err.OperationalError:
        _start_mariadb()
    deadline = time.monotonic() + 20
    error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            _maria_connect().close()
            return
        except pymysql.err.OperationalError as e:
            error = e
            time.sleep(0.5)
    if os.environ.get("CI"):
        pytest.fail(f"{MARIA_HINT}; CI must run the MariaDB tests ({error})")
    pytest.skip(MARIA_HINT)


@dataclass
class MariaZoo:
    sales: str  # schema names: MySQL calls them databases
    odd: str
    user: str  # a user whose password is `right`


@pytest.fixture(scope="module")
def maria_zoo(maria_server: None) -> Iterator[MariaZoo]:
    prefix = f"lt{uuid.uuid4().hex[:8]}"
    zoo = MariaZoo(f"{prefix}_sales", f"{prefix}_Odd.Names", f"{prefix}_user")
    s, o = zoo.sales, zoo.odd
    statements = [
        f"CREATE DATABASE `{s}` CHARACTER SET utf8mb4",
        f"CREATE DATABASE `{o}` CHARACTER SET utf8mb4",
        f"""CREATE TABLE `{s}`.customers (
            id INT NOT NULL PRIMARY KEY COMMENT 'Customer id',
            email VARCHAR(255) NOT NULL UNIQUE COMMENT 'Where receipts go',
            `FullName` TEXT,
            balance DECIMAL(12,2) NOT NULL DEFAULT 0.00,
            created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            active TINYINT(1) DEFAULT 1,
            kind ENUM('retail','trade') DEFAULT 'retail',
            photo BLOB,
            score DOUBLE,
            born DATE,
            notes TEXT,
            doubled INT AS (id * 2) VIRTUAL
        ) ENGINE=InnoDB COMMENT='People who buy things'""",
        f"""CREATE TABLE `{s}`.orders (
            customer_id INT NOT NULL,
            order_no INT NOT NULL,
            `select` VARCHAR(20),
            `order` SMALLINT,
            amount DECIMAL(12,2),
            PRIMARY KEY (customer_id, order_no),
            UNIQUE KEY orders_select_order_key (`select`, `order`),
            CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)
        ) ENGINE=InnoDB""",
        f"""CREATE TABLE `{s}`.order_lines (
            customer_id INT NOT NULL,
            order_no INT NOT NULL,
            line INT NOT NULL,
            PRIMARY KEY (customer_id, order_no, line),
            CONSTRAINT lines_order_fk FOREIGN KEY (customer_id, order_no)
                REFERENCES orders (customer_id, order_no)
        ) ENGINE=InnoDB""",
        f"CREATE VIEW `{s}`.big_orders AS "
        f"SELECT customer_id, order_no, amount FROM `{s}`.orders WHERE amount > 100",
        f'CREATE TABLE `{o}`.`we"ird` (`a.b` INT PRIMARY KEY, `MixedCase` VARCHAR(10))',
        f"CREATE TABLE `{o}`.`a.b` (`select` INT, `order` INT)",
        f"CREATE TABLE `{o}`.`café` (`表` TEXT, `Straße` DECIMAL(10,0))",
        f"""CREATE TABLE `{o}`.`表` (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            customer INT,
            CONSTRAINT odd_customer_fk FOREIGN KEY (customer) REFERENCES `{s}`.customers (id)
        ) ENGINE=InnoDB""",
        f"CREATE TABLE `{o}`.`CamelCase` (`Id` INT)",
        f"""INSERT INTO `{s}`.customers (id, email, `FullName`, balance, created_at, photo,
            score, born, notes) VALUES
            (1, 'ann@example.com', 'Ann Smith', 12.50, '2024-05-01 10:00:00', x'0102ff', 1.5,
             '1990-01-02', '{LONG_NOTE}'),
            (2, 'bob@example.com', 'Bob Jones', 0, '2024-05-02 11:30:00', NULL, NULL, NULL,
             'short')""",
        f"INSERT INTO `{s}`.orders VALUES (1, 1, 'x', 1, 150.00), (1, 2, 'y', 2, 20.00)",
        f"INSERT INTO `{o}`.`we\"ird` VALUES (7, 'Mixed')",
        f"ANALYZE TABLE `{s}`.customers, `{s}`.orders",
        f"CREATE USER '{zoo.user}'@'%' IDENTIFIED BY 'right'",
        f"CREATE USER '{zoo.user}'@'localhost' IDENTIFIED BY 'right'",
    ]
    conn = _maria_connect()
    try:
        with conn.cursor() as cur:
            for stmt in statements:
                cur.execute(stmt)
                if stmt.startswith("ANALYZE"):
                    cur.fetchall()
        yield zoo
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{o}`")
            cur.execute(f"DROP DATABASE IF EXISTS `{s}`")
            cur.execute(f"DROP USER IF EXISTS '{zoo.user}'@'%', '{zoo.user}'@'localhost'")
        conn.close()


# -- SQLite and DuckDB files -------------------------------------------------------------------

SQLITE_ZOO = f"""
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    "FullName" TEXT,
    balance NUMERIC(12,2) NOT NULL DEFAULT 0.00,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    photo BLOB,
    notes,
    score REAL
);
CREATE TABLE orders (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    order_no INTEGER NOT NULL,
    "select" TEXT,
    "order" SMALLINT,
    amount DECIMAL(12,2),
    PRIMARY KEY (customer_id, order_no),
    UNIQUE ("select", "order")
);
CREATE TABLE order_lines (
    customer_id INT,
    order_no INT,
    line INT,
    PRIMARY KEY (customer_id, order_no, line),
    FOREIGN KEY (customer_id, order_no) REFERENCES orders
);
CREATE VIEW big_orders AS SELECT customer_id, order_no, amount FROM orders WHERE amount > 100;
CREATE TABLE "we""ird" ("a.b" INTEGER PRIMARY KEY, "MixedCase" VARCHAR(10));
CREATE TABLE "a.b" ("select" INT, "order" INT);
CREATE TABLE "café" ("表" TEXT, "Straße" NUMERIC);
CREATE TABLE "表" (id INTEGER PRIMARY KEY, customer INT REFERENCES Customers (ID));
CREATE TABLE "CamelCase" ("Id" INT);
INSERT INTO customers (id, email, "FullName", balance, created_at, photo, notes, score) VALUES
    (1, 'ann@example.com', 'Ann Smith', 12.5, '2024-05-01 10:00:00', x'0102ff', '{LONG_NOTE}',
     1.5),
    (2, 'bob@example.com', 'Bob Jones', 0, '2024-05-02 11:30:00', NULL, 'short', NULL);
INSERT INTO orders VALUES (1, 1, 'x', 1, 150.0), (1, 2, 'y', 2, 20.0);
INSERT INTO "we""ird" VALUES (7, 'Mixed');
ANALYZE;
"""


@pytest.fixture
def sqlite_zoo(tmp_path: Path) -> Path:
    path = tmp_path / "zoo.v1.sqlite"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(SQLITE_ZOO)
        conn.commit()
    finally:
        conn.close()
    return path


DUCKDB_ZOO = f"""
CREATE SCHEMA sales;
CREATE SCHEMA "Odd.Names";
CREATE TABLE sales.customers (
    id INTEGER PRIMARY KEY,
    email VARCHAR NOT NULL UNIQUE,
    "FullName" VARCHAR,
    balance DECIMAL(12,2) NOT NULL DEFAULT 0.00,
    created_at TIMESTAMP DEFAULT TIMESTAMP '2024-01-01 00:00:00',
    tags VARCHAR[],
    profile STRUCT(a INTEGER, b VARCHAR),
    uid UUID,
    photo BLOB,
    notes VARCHAR
);
COMMENT ON TABLE sales.customers IS 'People who buy things';
COMMENT ON COLUMN sales.customers.email IS 'Where receipts go';
CREATE TABLE sales.orders (
    customer_id INTEGER NOT NULL REFERENCES sales.customers (id),
    order_no INTEGER NOT NULL,
    "select" VARCHAR,
    "order" SMALLINT,
    amount DECIMAL(12,2),
    PRIMARY KEY (customer_id, order_no),
    UNIQUE ("select", "order")
);
CREATE VIEW sales.big_orders AS
    SELECT customer_id, order_no, amount FROM sales.orders WHERE amount > 100;
COMMENT ON VIEW sales.big_orders IS 'Orders over 100';
CREATE TABLE "Odd.Names"."we""ird" ("a.b" INTEGER PRIMARY KEY, "MixedCase" VARCHAR);
CREATE TABLE "Odd.Names"."a.b" ("select" INTEGER, "order" INTEGER);
CREATE TABLE "Odd.Names"."café" ("表" VARCHAR, "Straße" DECIMAL(10,0));
CREATE TABLE "Odd.Names"."表" (
    id BIGINT PRIMARY KEY,
    w INTEGER REFERENCES "Odd.Names"."we""ird" ("a.b")
);
CREATE TABLE "Odd.Names"."CamelCase" ("Id" INTEGER);
INSERT INTO sales.customers VALUES
    (1, 'ann@example.com', 'Ann Smith', 12.50, TIMESTAMP '2024-05-01 10:00:00', ['a', 'b'],
     {{'a': 1, 'b': 'x'}}, '0b7ea3c5-3f3c-4b46-9c64-7c2b27d0ad55', '\\x01\\x02\\xFF'::BLOB,
     '{LONG_NOTE}'),
    (2, 'bob@example.com', 'Bob Jones', 0, TIMESTAMP '2024-05-02 11:30:00', NULL, NULL, NULL,
     NULL, 'short');
INSERT INTO sales.orders VALUES (1, 1, 'x', 1, 150.00), (1, 2, 'y', 2, 20.00);
INSERT INTO "Odd.Names"."we""ird" VALUES (7, 'Mixed');
"""


@pytest.fixture
def duckdb_zoo(tmp_path: Path) -> Path:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    try:
        conn.execute(DUCKDB_ZOO)
    finally:
        conn.close()
    return path
