"""Persistence: SQLAlchemy Core tables and queries for SQLite and PostgreSQL, and migrations.

The tables are private to this package; everything above it calls the query functions.
"""

from lodestar.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
