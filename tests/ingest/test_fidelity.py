"""Issue 10: what the source holds is what the catalog holds, compared against the source's own
catalog (pg_class, information_schema), on the real databases."""

from __future__ import annotations

from typing import Any

import pytest

from lodestar.catalog import Key
from lodestar.model import fqn

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
