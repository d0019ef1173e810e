"""Apply Alembic migrations from code: at start-up and by `lodestar db upgrade`.

Start-up first compares the database's revision with the newest migration file using plain SQL
and the files' text: importing Alembic costs about a tenth of a second, which a short command
(`lodestar ingest` of an unchanged source) should only pay when there is something to migrate.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK = 0x10DE57A2  # one migrator at a time when several replicas start together
_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:["']([^"']+)["']|None)\s*$""", re.MULTILINE)


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


@cache
def head_from_files() -> str | None:
    """The head revision as the migration files spell it, or None when they do not say it
    plainly (a merge, several heads, an unusual `down_revision`): Alembic decides then."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text()
        rev = _REVISION.search(text)
        if rev is None:
            continue  # not a migration (__init__.py)
        down = _DOWN_REVISION.search(text)
        if down is None:
            return None
        revisions.add(rev[1])
        if down[1]:
            downs.add(down[1])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, read with plain SQL; None when there is no
    single one (a fresh database, several heads)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    except sa.exc.DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head":
        stored = stored_revision(engine)
        if stored is not None and stored == head_from_files():
            return
        if current(engine) == head():
            return
    from alembic import command

    cfg = _config()
    with engine.connect() as conn:
        # SQLite: take the write lock up front, so a second process starting on the same fresh
        # file waits for this migration instead of failing on a lock upgrade.
        conn = conn.execution_options(lodestar_write=True)
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
                conn.commit()
