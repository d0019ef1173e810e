"""Queries over assets, their versions and edges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from lodestar.model.records import Asset, VersionRecord
from lodestar.store.rows import Values, insert_rows, json_text
from lodestar.store.tables import assets, columns, edges, observations, versions

_COLS = (
    assets.c.id,
    assets.c.kind,
    assets.c.fqn,
    assets.c.name,
    assets.c.parent_id,
    assets.c.version,
    assets.c.doc,
    assets.c.provenance,
    assets.c.deleted,
    assets.c.created_at,
    assets.c.updated_at,
    assets.c.updated_by,
)


def _asset(row: Row[Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any]) -> Asset:
    return Asset(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        bool(row[8]),
        row[9],
        row[10],
        row[11],
    )


def get(conn: Connection, asset_id: str, *, for_update: bool = False) -> Asset | None:
    q = sa.select(*_COLS).where(assets.c.id == asset_id)
    if for_update:
        q = q.with_for_update()
    row = conn.execute(q).first()
    return _asset(row) if row else None


def get_by_fqn(conn: Connection, kind: str, fqn: str, *, for_update: bool = False) -> Asset | None:
    q = sa.select(*_COLS).where(assets.c.kind == kind, assets.c.fqn == fqn)
    if for_update:
        q = q.with_for_update()
    row = conn.execute(q).first()
    return _asset(row) if row else None


# PostgreSQL plans a query from statistics, and nothing guarantees there are any: a fresh or
# restored catalog, or a server with autovacuum off, has none, and a prepared statement's
# generic plan never sees the values. An IN list of FQNs was then planned as a scan of every
# asset of the kind, filtering the FQNs; a join against unnest() as a hash join over a
# sequential scan. So the look-ups by key on PostgreSQL take the keys as arrays and probe the
# key's index once per key from a LATERAL subquery with LIMIT 1, which the planner cannot
# flatten into a join of its choosing: a nested loop over the array, whatever the statistics
# say. The loop runs in array order, so FOR UPDATE inside the subquery locks the rows in the
# order of the (sorted) array, and two bulk writers lock in the same order and cannot
# deadlock. SQLite always probes an index for these (it has no statistics unless ANALYZE
# ran, and then uses them only to choose between indexes).
_SELECT = ", ".join(f"a.{c.name}" for c in _COLS)
_COLS_SQL = ", ".join(c.name for c in _COLS)
_BY_FQN_POSTGRES = f"""
SELECT {_SELECT}
FROM unnest(%s::text[]) AS p(fqn)
CROSS JOIN LATERAL (
    SELECT {_COLS_SQL} FROM assets WHERE kind = %s AND fqn = p.fqn LIMIT 1{{lock}}
) AS a
"""
_BY_ID_POSTGRES = f"""
SELECT {_SELECT}
FROM unnest(%s::text[]) AS p(id)
CROSS JOIN LATERAL (SELECT {_COLS_SQL} FROM assets WHERE id = p.id LIMIT 1) AS a
"""


def get_many_by_fqn(
    conn: Connection, kind: str, fqns: Sequence[str], *, for_update: bool = False
) -> dict[str, Asset]:
    """Assets by FQN; with `for_update`, row-locked in FQN order (PostgreSQL), so concurrent
    writers of the same assets queue instead of planning from the same version, and two
    bulk writes lock in the same order and cannot deadlock."""
    out: dict[str, Asset] = {}
    ordered = sorted(set(fqns))
    postgres = conn.dialect.name == "postgresql"
    sql = _BY_FQN_POSTGRES.format(lock=" FOR UPDATE" if for_update else "")
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        if postgres:
            rows: Iterable[Any] = conn.exec_driver_sql(sql, (chunk, kind))
        else:
            q = sa.select(*_COLS).where(assets.c.kind == kind, assets.c.fqn.in_(chunk))
            if for_update:
                q = q.order_by(assets.c.fqn).with_for_update()
            rows = conn.execute(q)
        for row in rows:
            a = _asset(row)
            out[a.fqn] = a
    return out


# One statement for any number of (kind, fqn) pairs, passed as one parameter: a JSON array
# on SQLite (the CROSS JOIN keeps json_each as the outer loop, so every pair is one probe of
# uq_assets_kind_fqn), two text arrays on PostgreSQL (a LATERAL probe per pair, as above).
# The IN-list form compiled a statement per kind and per 500 names in SQLAlchemy, most of the
# cost of checking a run's 1,000 assets.
_IDS_SQLITE = """
SELECT a.kind, a.fqn, a.id, a.deleted
FROM json_each(?) AS p
CROSS JOIN assets AS a
WHERE a.kind = json_extract(p.value, '$[0]') AND a.fqn = json_extract(p.value, '$[1]')
"""
_IDS_POSTGRES = """
SELECT a.kind, a.fqn, a.id, a.deleted
FROM unnest(%s::text[], %s::text[]) AS p(kind, fqn)
CROSS JOIN LATERAL (
    SELECT kind, fqn, id, deleted FROM assets WHERE kind = p.kind AND fqn = p.fqn LIMIT 1
) AS a
"""


def ids_by_fqn(
    conn: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, bool]]:
    """(kind, fqn) -> (id, deleted) for the pairs that exist."""
    uniq = list(dict.fromkeys(pairs))
    if not uniq:
        return {}
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(_IDS_SQLITE, (json_text(uniq),))
    else:
        kinds = [k for k, _f in uniq]
        fqns = [f for _k, f in uniq]
        rows = conn.exec_driver_sql(_IDS_POSTGRES, (kinds, fqns))
    return {(str(k), str(f)): (str(i), bool(d)) for k, f, i, d in rows}


_CHILDREN_POSTGRES = f"""
SELECT {_SELECT}
FROM unnest(%s::text[]) AS p(parent_id)
CROSS JOIN LATERAL (
    SELECT {_COLS_SQL} FROM assets WHERE parent_id = p.parent_id OFFSET 0
) AS a
"""  # OFFSET 0: as LIMIT 1 above, the subquery stays a probe of ix_assets_parent per id


def children(conn: Connection, parent_ids: Sequence[str]) -> list[Asset]:
    out: list[Asset] = []
    postgres = conn.dialect.name == "postgresql"
    for i in range(0, len(parent_ids), 500):
        chunk = list(parent_ids[i : i + 500])
        if postgres:
            rows: Iterable[Any] = conn.exec_driver_sql(_CHILDREN_POSTGRES, (chunk,))
        else:
            rows = conn.execute(sa.select(*_COLS).where(assets.c.parent_id.in_(chunk)))
        out.extend(_asset(r) for r in rows)
    return out


def descendants(conn: Connection, root_id: str) -> list[Asset]:
    """Every asset below root, parents before children."""
    out: list[Asset] = []
    level = [root_id]
    while level:
        kids = children(conn, level)
        out.extend(kids)
        level = [k.id for k in kids]
    return out


def list_page(
    conn: Connection,
    kind: str,
    *,
    limit: int,
    after: str | None,
    include: str,
    parent_id: str | None = None,
    related_to: Sequence[tuple[str, str]] = (),
) -> tuple[list[Asset], int]:
    """A page ordered by FQN after the cursor, and the total matching the filters."""
    conds: list[sa.ColumnElement[bool]] = [assets.c.kind == kind]
    if include == "non-deleted":
        conds.append(assets.c.deleted.is_(False))
    elif include == "deleted":
        conds.append(assets.c.deleted.is_(True))
    if parent_id is not None:
        conds.append(assets.c.parent_id == parent_id)
    for relation, target in related_to:
        conds.append(
            assets.c.id.in_(
                sa.select(edges.c.from_id).where(
                    edges.c.relation == relation, edges.c.to_id == target
                )
            )
        )
    total = conn.execute(sa.select(sa.func.count()).select_from(assets).where(*conds)).scalar_one()
    q = sa.select(*_COLS).where(*conds)
    if after is not None:
        q = q.where(assets.c.fqn > after)
    rows = conn.execute(q.order_by(assets.c.fqn).limit(limit)).all()
    return [_asset(r) for r in rows], int(total)


def list_as_of(
    conn: Connection, kind: str, ts: int, *, limit: int, after: str | None, include: str
) -> tuple[list[VersionRecord], int]:
    """The version of each asset of a kind that was current at `ts`."""
    latest = (
        sa.select(versions.c.asset_id, sa.func.max(versions.c.version).label("v"))
        .where(versions.c.kind == kind, versions.c.ts <= ts)
        .group_by(versions.c.asset_id)
        .subquery()
    )
    conds: list[sa.ColumnElement[bool]] = []
    if include == "non-deleted":
        conds.append(versions.c.deleted.is_(False))
    elif include == "deleted":
        conds.append(versions.c.deleted.is_(True))
    base = (
        sa.select(*versions.c)
        .join(
            latest,
            sa.and_(versions.c.asset_id == latest.c.asset_id, versions.c.version == latest.c.v),
        )
        .where(*conds)
    )
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    if after is not None:
        base = base.where(versions.c.fqn > after)
    rows = conn.execute(base.order_by(versions.c.fqn).limit(limit)).all()
    return [VersionRecord(**r._mapping) for r in rows], int(total)


ASSET_COLUMNS = (
    "id",
    "kind",
    "fqn",
    "name",
    "parent_id",
    "version",
    "doc",
    "provenance",
    "deleted",
    "created_at",
    "updated_at",
    "updated_by",
)
VERSION_COLUMNS = (
    "asset_id",
    "version",
    "kind",
    "fqn",
    "doc",
    "change",
    "deleted",
    "actor",
    "origin",
    "ts",
)


def insert_assets(conn: Connection, rows: Sequence[Values]) -> None:
    """New asset rows: tuples in ASSET_COLUMNS order, JSON columns as `json_text`."""
    insert_rows(conn, "assets", ASSET_COLUMNS, rows)


def update_asset(conn: Connection, asset_id: str, expected_version: int, **values: Any) -> bool:
    """Compare-and-set on the version: False when another writer got there first."""
    res = conn.execute(
        assets.update()
        .where(assets.c.id == asset_id, assets.c.version == expected_version)
        .values(**values)
    )
    return res.rowcount == 1


def insert_versions(conn: Connection, rows: Sequence[Values]) -> None:
    """Version records: tuples in VERSION_COLUMNS order, JSON columns as `json_text`."""
    insert_rows(conn, "asset_versions", VERSION_COLUMNS, rows)


def list_versions(conn: Connection, asset_id: str) -> list[VersionRecord]:
    q = sa.select(*versions.c).where(versions.c.asset_id == asset_id)
    return [
        VersionRecord(**r._mapping) for r in conn.execute(q.order_by(versions.c.version.desc()))
    ]


def get_version(conn: Connection, asset_id: str, version: int) -> VersionRecord | None:
    q = sa.select(*versions.c).where(versions.c.asset_id == asset_id, versions.c.version == version)
    row = conn.execute(q).first()
    return VersionRecord(**row._mapping) if row else None


def version_as_of(conn: Connection, asset_id: str, ts: int) -> VersionRecord | None:
    q = (
        sa.select(*versions.c)
        .where(versions.c.asset_id == asset_id, versions.c.ts <= ts)
        .order_by(versions.c.version.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return VersionRecord(**row._mapping) if row else None


def id_as_of(conn: Connection, kind: str, fqn: str, ts: int) -> str | None:
    """The id an FQN named at `ts` (it may since have been hard-deleted and reused)."""
    q = (
        sa.select(versions.c.asset_id)
        .where(versions.c.kind == kind, versions.c.fqn == fqn, versions.c.ts <= ts)
        .order_by(versions.c.ts.desc())
        .limit(1)
    )
    return conn.execute(q).scalar()


def erase(conn: Connection, asset_ids: Sequence[str]) -> None:
    """Hard delete: the assets, their history, edges, columns and observations."""
    for i in range(0, len(asset_ids), 500):
        chunk = asset_ids[i : i + 500]
        conn.execute(edges.delete().where(edges.c.from_id.in_(chunk)))
        conn.execute(edges.delete().where(edges.c.to_id.in_(chunk)))
        conn.execute(versions.delete().where(versions.c.asset_id.in_(chunk)))
        conn.execute(observations.delete().where(observations.c.asset_id.in_(chunk)))
        conn.execute(columns.delete().where(columns.c.asset_id.in_(chunk)))
        conn.execute(assets.delete().where(assets.c.id.in_(chunk)))


def by_fqn_prefix(conn: Connection, kind: str, prefix: str) -> list[Asset]:
    q = sa.select(*_COLS).where(
        assets.c.kind == kind, assets.c.fqn.startswith(prefix, autoescape=True)
    )
    return [_asset(r) for r in conn.execute(q)]


def team_fqns_of_user(conn: Connection, user_fqn: str) -> list[str]:
    user = sa.select(assets.c.id).where(assets.c.kind == "user", assets.c.fqn == user_fqn)
    q = (
        sa.select(assets.c.fqn)
        .join(edges, edges.c.from_id == assets.c.id)
        .where(edges.c.relation == "has_member", edges.c.to_id == user.scalar_subquery())
    )
    return list(conn.execute(q).scalars())


def page_by_id(conn: Connection, after: str, limit: int) -> list[Asset]:
    """Every asset, deleted ones too, in id order after `after` (for rebuilds)."""
    q = sa.select(*_COLS).where(assets.c.id > after).order_by(assets.c.id).limit(limit)
    return [_asset(r) for r in conn.execute(q)]


def count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(assets)).scalar_one())


def get_many(conn: Connection, asset_ids: Sequence[str]) -> dict[str, Asset]:
    out: dict[str, Asset] = {}
    ids = list(dict.fromkeys(asset_ids))
    postgres = conn.dialect.name == "postgresql"
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        if postgres:  # a probe of the primary key per id, whatever the statistics (above)
            rows: Iterable[Any] = conn.exec_driver_sql(_BY_ID_POSTGRES, (chunk,))
        else:
            rows = conn.execute(sa.select(*_COLS).where(assets.c.id.in_(chunk)))
        for r in rows:
            a = _asset(r)
            out[a.id] = a
    return out


def documents_of_kinds(conn: Connection, kinds: Sequence[str]) -> Iterable[tuple[str, Any]]:
    """Every stored JSON document of assets of these kinds, as (where, document): the current
    bodies, every version's body and change, every event's change. For audits (secrets)."""
    from lodestar.store.tables import events

    for row in conn.execute(
        sa.select(assets.c.kind, assets.c.fqn, assets.c.doc).where(assets.c.kind.in_(kinds))
    ):
        yield f"{row.kind} {row.fqn}", row.doc
    for row in conn.execute(
        sa.select(versions.c.kind, versions.c.fqn, versions.c.version, versions.c.doc)
        .add_columns(versions.c.change)
        .where(versions.c.kind.in_(kinds))
    ):
        yield f"{row.kind} {row.fqn} version {row.version}", row.doc
        if row.change is not None:
            yield f"{row.kind} {row.fqn} version {row.version} change", row.change
    for row in conn.execute(
        sa.select(events.c.seq, events.c.asset_kind, events.c.fqn, events.c.change).where(
            events.c.asset_kind.in_(kinds), events.c.change.is_not(None)
        )
    ):
        yield f"{row.asset_kind} {row.fqn} event {row.seq}", row.change
