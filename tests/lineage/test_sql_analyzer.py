"""The SQL lineage analyzer, construct by construct and dialect by dialect: real SQL through
sqlglot, answers checked in full."""

from __future__ import annotations

import pytest

from lodestar.lineage.sql import (
    Flow,
    UnknownDialectError,
    analyze,
    fingerprint,
    known_dialects,
    normalized,
)


def test_select_reads_only_and_collects_subquery_tables() -> None:
    result = analyze(
        "SELECT o.id, c.name FROM shop.orders o JOIN shop.customers c ON o.cid = c.id "
        "WHERE o.x IN (SELECT x FROM shop.other)",
        dialect="postgres",
    )
    assert result.sources == ["shop.orders", "shop.customers", "shop.other"]
    assert result.targets == [] and result.columns == [] and result.errors == []


def test_insert_select_with_expressions_and_defaults() -> None:
    result = analyze(
        "INSERT INTO b SELECT x, y + z AS w FROM a",
        dialect="postgres",
        default_database="shop",
        default_schema="public",
    )
    assert result.sources == ["shop.public.a"]
    assert result.targets == ["shop.public.b"]
    assert result.columns == [
        ("shop.public.a.x", "shop.public.b.x"),
        ("shop.public.a.y", "shop.public.b.w"),
        ("shop.public.a.z", "shop.public.b.w"),
    ]
    assert result.flows == [
        Flow("shop.public.a", "shop.public.b", (("x", "x"), ("y", "w"), ("z", "w")))
    ]


def test_insert_with_column_list_maps_by_position() -> None:
    result = analyze(
        "insert into Sales.Orders (Id, Total) select o.Id, o.Amount from Staging.Orders o",
        dialect="databricks",
    )
    assert result.columns == [
        ("staging.orders.id", "sales.orders.id"),
        ("staging.orders.amount", "sales.orders.total"),
    ]


def test_recursive_cte() -> None:
    result = analyze(
        "WITH RECURSIVE tree AS (SELECT id, parent_id FROM nodes UNION ALL "
        "SELECT n.id, n.parent_id FROM nodes n JOIN tree t ON n.parent_id = t.id) "
        "INSERT INTO flat SELECT id, parent_id FROM tree",
        dialect="postgres",
    )
    assert result.sources == ["nodes"] and result.targets == ["flat"]
    assert result.columns == [("nodes.id", "flat.id"), ("nodes.parent_id", "flat.parent_id")]


def test_window_function_and_snowflake_upper_case() -> None:
    result = analyze(
        "INSERT INTO agg SELECT user_id, SUM(amount) OVER (PARTITION BY region ORDER BY ts) "
        "AS running FROM payments",
        dialect="snowflake",
        default_database="DB",
        default_schema="PUBLIC",
    )
    assert result.targets == ["DB.PUBLIC.AGG"]
    assert set(result.columns) == {
        ("DB.PUBLIC.PAYMENTS.USER_ID", "DB.PUBLIC.AGG.USER_ID"),
        ("DB.PUBLIC.PAYMENTS.AMOUNT", "DB.PUBLIC.AGG.RUNNING"),
        ("DB.PUBLIC.PAYMENTS.REGION", "DB.PUBLIC.AGG.RUNNING"),
        ("DB.PUBLIC.PAYMENTS.TS", "DB.PUBLIC.AGG.RUNNING"),
    }


def test_merge_update_and_insert_branches() -> None:
    result = analyze(
        "MERGE INTO dim d USING (SELECT id, max(name) AS name FROM stage GROUP BY id) s "
        "ON d.id = s.id WHEN MATCHED THEN UPDATE SET d.name = s.name "
        "WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)",
        dialect="snowflake",
    )
    assert result.sources == ["STAGE"] and result.targets == ["DIM"]
    assert set(result.columns) == {("STAGE.NAME", "DIM.NAME"), ("STAGE.ID", "DIM.ID")}


def test_update_from() -> None:
    result = analyze(
        "UPDATE t SET total = s.amount * 2, n = t.n + 1 FROM sales s WHERE s.id = t.id",
        dialect="postgres",
        default_schema="public",
    )
    assert result.sources == ["public.sales"] and result.targets == ["public.t"]
    assert result.columns == [("public.sales.amount", "public.t.total")]


def test_update_with_join_mysql() -> None:
    result = analyze(
        "UPDATE tab1 a INNER JOIN tab2 b ON a.col1 = b.col1 SET a.col2 = b.col2", dialect="mysql"
    )
    assert result.sources == ["tab2"] and result.targets == ["tab1"]
    assert result.columns == [("tab2.col2", "tab1.col2")]


def test_delete_using_and_plain_delete() -> None:
    using = analyze("DELETE FROM t USING s WHERE t.id = s.id", dialect="postgres")
    assert (using.sources, using.targets) == (["s"], ["t"])
    plain = analyze("DELETE FROM t WHERE id = 1", dialect="postgres")
    assert (plain.sources, plain.targets) == ([], [])


def test_temp_table_flows_through_and_is_not_reported() -> None:
    result = analyze(
        "CREATE TEMP TABLE tmp AS SELECT id, amount FROM raw.payments;\n"
        "INSERT INTO mart.payments SELECT id, amount * 100 AS cents FROM tmp;\n"
        "DROP TABLE tmp",
        dialect="postgres",
    )
    assert result.sources == ["raw.payments"] and result.targets == ["mart.payments"]
    assert result.columns == [
        ("raw.payments.id", "mart.payments.id"),
        ("raw.payments.amount", "mart.payments.cents"),
    ]


def test_tsql_select_into_temp_table() -> None:
    result = analyze(
        "SELECT TOP 10 [Name] INTO #tmp FROM dbo.People;"
        " INSERT INTO dbo.Names SELECT Name FROM #tmp",
        dialect="tsql",
    )
    assert result.sources == ["dbo.people"] and result.targets == ["dbo.names"]
    assert result.columns == [("dbo.people.name", "dbo.names.name")]


def test_star_expansion_with_known_schema_and_without() -> None:
    known = analyze(
        "CREATE VIEW v AS SELECT * FROM orders",
        dialect="duckdb",
        schema={"orders": ["id", "amount"]},
    )
    assert known.columns == [("orders.id", "v.id"), ("orders.amount", "v.amount")]
    unknown = analyze("CREATE VIEW v AS SELECT * FROM orders", dialect="duckdb")
    assert unknown.columns == [("orders.*", "v.*")]


def test_lateral_subquery_and_hive_lateral_view() -> None:
    lateral = analyze(
        "INSERT INTO out SELECT a.id, l.x FROM a, LATERAL (SELECT b.x FROM b WHERE b.id = a.id) l",
        dialect="postgres",
    )
    assert lateral.sources == ["a", "b"]
    assert lateral.columns == [("a.id", "out.id"), ("b.x", "out.x")]
    view = analyze(
        "INSERT OVERWRITE TABLE db.t SELECT a.x, e.item FROM db.s a "
        "LATERAL VIEW explode(a.items) e AS item",
        dialect="hive",
    )
    assert view.columns == [("db.s.x", "db.t.x"), ("db.s.items", "db.t.item")]


def test_set_operations() -> None:
    result = analyze(
        "INSERT INTO x.t SELECT a FROM x.s INTERSECT SELECT a FROM x.u", dialect="trino"
    )
    assert result.sources == ["x.s", "x.u"]
    assert result.columns == [("x.s.a", "x.t.a"), ("x.u.a", "x.t.a")]


def test_bigquery_backticks_and_unnest() -> None:
    result = analyze(
        "INSERT INTO `proj.ds.t` SELECT x, el FROM `proj.ds.s`, UNNEST(arr) AS el",
        dialect="bigquery",
    )
    assert result.sources == ["proj.ds.s"] and result.targets == ["proj.ds.t"]
    assert set(result.columns) == {
        ("proj.ds.s.x", "proj.ds.t.x"),
        ("proj.ds.s.arr", "proj.ds.t.el"),
    }


def test_oracle_upper_case_and_qualified_star() -> None:
    result = analyze(
        "INSERT INTO hr.emp_copy SELECT e.* FROM hr.emp e WHERE ROWNUM < 10", dialect="oracle"
    )
    assert result.columns == [("HR.EMP.*", "HR.EMP_COPY.*")]


def test_redshift_window_and_star() -> None:
    result = analyze(
        "CREATE TABLE t2 AS SELECT ROW_NUMBER() OVER (ORDER BY created) rn, * FROM t1",
        dialect="redshift",
    )
    assert result.columns == [("t1.created", "t2.rn"), ("t1.*", "t2.*")]


def test_mysql_default_database_is_the_schema() -> None:
    result = analyze("INSERT INTO t SELECT a FROM s", dialect="mysql", default_database="shop")
    assert (result.sources, result.targets) == (["shop.s"], ["shop.t"])


def test_procedure_body_is_read() -> None:
    result = analyze(
        "CREATE PROCEDURE p() AS BEGIN INSERT INTO tab2 (col1) SELECT col1 FROM tab1; END",
        dialect="tsql",
    )
    assert result.columns == [("tab1.col1", "tab2.col1")]


def test_errors_are_reported_per_statement_and_the_rest_is_read() -> None:
    result = analyze("SELECT 1; SELEC x FROM; INSERT INTO b SELECT y FROM a", dialect="postgres")
    assert result.columns == [("a.y", "b.y")]
    assert [e.statement for e in result.errors] == [2]
    assert result.errors[0].message.startswith("cannot parse")
    assert "\x1b" not in result.errors[0].message


def test_bad_text_never_raises() -> None:
    assert analyze("", dialect="postgres").as_dict() == {
        "sources": [],
        "targets": [],
        "columns": [],
        "errors": [],
    }
    broken = analyze("select 'unterminated", dialect="postgres")
    assert broken.errors and broken.errors[0].statement == 1
    deep = analyze("SELECT " + "(" * 3000 + "1" + ")" * 3000, dialect="postgres")
    assert deep.targets == []


@pytest.mark.parametrize(
    "dialect",
    [
        "postgres",
        "mysql",
        "snowflake",
        "bigquery",
        "spark",
        "hive",
        "databricks",
        "duckdb",
        "tsql",
        "redshift",
        "trino",
        "oracle",
        "ansi",
        "sparksql",
    ],
)
def test_every_common_dialect_reads_a_ctas(dialect: str) -> None:
    result = analyze("CREATE TABLE t AS SELECT a AS b FROM s", dialect=dialect)
    assert [x.lower() for x in result.targets] == ["t"]
    assert [(s.lower(), t.lower()) for s, t in result.columns] == [("s.a", "t.b")]


def test_unknown_dialect_names_the_known_ones() -> None:
    with pytest.raises(UnknownDialectError) as caught:
        analyze("SELECT 1", dialect="cobol")
    assert "postgres" in str(caught.value) and "snowflake" in str(caught.value)
    assert "postgres" in known_dialects() and "ansi" in known_dialects()


def test_fingerprint_ignores_literals_and_spacing() -> None:
    one = fingerprint("SELECT * FROM t WHERE a = 1 AND b IN (1, 2, 3)", "postgres")
    two = fingerprint("select *  from t where a = 'x' and b in (7)", "postgres")
    assert one == two and len(one) == 32
    assert fingerprint("SELECT * FROM u WHERE a = 1", "postgres") != one
    assert "?" in normalized("SELECT 1", "postgres")
    assert fingerprint("SELEC garbage '1'") == fingerprint("SELEC garbage '2'")
