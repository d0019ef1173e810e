"""Audits of what is stored: credentials kept in clear in service connections and pipeline
recipes (written before the write path refused them), in current bodies, versions and events.
A finding says where, never the value."""

from __future__ import annotations

from lodestar.model.secrets import find_clear_secrets
from lodestar.store import assets as q
from lodestar.store.engine import Store

SECRET_KINDS = ("service", "ingestion_pipeline")


def clear_secrets(store: Store) -> list[str]:
    """Where stored documents hold a credential in clear: 'service wh version 2: ...'."""
    found: list[str] = []
    with store.read() as conn:
        for where, doc in q.documents_of_kinds(conn, SECRET_KINDS):
            found += [f"{where}: {p}" for p in find_clear_secrets(doc, "doc")]
    return found
