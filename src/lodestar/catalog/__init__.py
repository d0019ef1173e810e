"""The one write path and the reads: upsert, patch, delete, versions, as-of, events."""

from lodestar.catalog.errors import (
    AlreadyExists,
    BadRequest,
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    VersionMismatch,
)
from lodestar.catalog.service import BulkLine, Catalog, Key, Page
from lodestar.catalog.writes import Applied, DerivedWriter, Outcome, WriteContext

__all__ = [
    "AlreadyExists",
    "Applied",
    "BadRequest",
    "BulkLine",
    "Catalog",
    "CatalogError",
    "Conflict",
    "DerivedWriter",
    "Forbidden",
    "InvalidInput",
    "Key",
    "NotFound",
    "Outcome",
    "Page",
    "Unauthorized",
    "VersionMismatch",
    "WriteContext",
]
