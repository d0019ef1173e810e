"""Alembic environment: runs on the connection handed over by `lodestar.store.migrate`."""

from __future__ import annotations

from alembic import context

from lodestar.schema import metadata as all_tables

metadata = all_tables()

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `lodestar db upgrade`, not the alembic command")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
