"""POST /api/v1/sql/lineage over real HTTP on SQLite and PostgreSQL: the answer's exact
shape, `*` expanded from the catalog's tables, readers allowed, bad input a 4xx problem."""

from __future__ import annotations

from lodestar.model import fqn

from .support import Api, problem_of, unique

URL = "/api/v1/sql/lineage"


def test_the_answer_is_the_contract(api: Api) -> None:
    resp = api.client.post(
        URL,
        json={
            "sql": "INSERT INTO mart.daily SELECT o.day, SUM(o.amount) AS total "
            "FROM raw.orders o GROUP BY o.day;\nSELEC broken;",
            "dialect": "postgres",
            "default_database": "shop",
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {
        "sources": ["shop.raw.orders"],
        "targets": ["shop.mart.daily"],
        "columns": [
            ["shop.raw.orders.day", "shop.mart.daily.day"],
            ["shop.raw.orders.amount", "shop.mart.daily.total"],
        ],
        "errors": [
            {"statement": 2, "message": "cannot parse: 'SELEC broken' is not a SQL statement"}
        ],
    }


def test_star_expands_from_the_catalog(api: Api) -> None:
    seed = api.fresh_seed()
    # Every seed's schema is `db.raw`: a name of its own, so that without a service the one
    # table of that name is found, whichever service holds it.
    name = unique("orders")
    columns = [{"name": n, "data_type": "int"} for n in ("id", "amount", "region")]
    api.put_ok("tables", seed.table_body(name, columns=columns))
    _, database, schema = fqn.split(seed.schema)
    sql = (
        f'CREATE TABLE "{database}"."{schema}".copy AS SELECT * FROM "{database}"."{schema}".{name}'
    )
    body = api.client.post(URL, json={"sql": sql, "dialect": "postgres"}).json()
    source = fqn.join([database, schema, name])
    target = fqn.join([database, schema, "copy"])
    assert body["columns"] == [
        [f"{source}.{c}", f"{target}.{c}"] for c in ("id", "amount", "region")
    ]
    pinned = api.client.post(
        URL, json={"sql": sql, "dialect": "postgres", "service": seed.service}
    ).json()
    assert pinned == body
    unknown = api.client.post(URL, json={"sql": sql.replace(name, "nowhere")}).json()
    assert unknown["columns"] == [[f"{fqn.join([database, schema, 'nowhere'])}.*", f"{target}.*"]]


def test_readers_may_ask_and_anonymous_may_not(api: Api) -> None:
    body = {"sql": "SELECT a FROM t", "dialect": "duckdb"}
    viewer = api.as_role("viewer").post(URL, json=body)
    assert viewer.status_code == 200 and viewer.json()["sources"] == ["t"]
    anonymous = api.anon.post(URL, json=body)
    assert anonymous.status_code == 401
    assert problem_of(anonymous)["status"] == 401


def test_bad_input_is_a_clear_4xx(api: Api) -> None:
    unknown = api.client.post(URL, json={"sql": "SELECT 1", "dialect": "cobol"})
    assert unknown.status_code == 422
    detail = problem_of(unknown)["detail"]
    assert "cobol" in detail and "postgres" in detail and "snowflake" in detail
    for bad in ({}, {"sql": ""}, {"sql": 1}, {"sql": "SELECT 1", "extra": True}, [1], "x"):
        resp = api.client.post(URL, json=bad)
        assert resp.status_code == 422, (bad, resp.text)
        assert problem_of(resp)["status"] == 422
    huge = api.client.post(URL, json={"sql": "SELECT 1 " + " " * 1_000_000})
    assert huge.status_code == 422 and "sql" in problem_of(huge)["detail"]
    not_json = api.client.post(URL, content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    deep = api.client.post(URL, json={"sql": "SELECT " + "(" * 5000 + "1" + ")" * 5000})
    assert deep.status_code == 200 and deep.json()["targets"] == []


def test_nothing_is_written(api: Api) -> None:
    before = api.last_event()
    api.client.post(URL, json={"sql": "CREATE TABLE a.b AS SELECT x FROM c.d"})
    assert api.last_event() == before
