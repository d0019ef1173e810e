"""The one write path and the reads: upsert, patch, delete, versions, as-of, events."""

from lodestar.catalog.derived import Applied, Batch, DerivedWriter, EdgeChange
from lodestar.catalog.edges import EdgeIn, EdgeResult
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
from lodestar.catalog.transaction import Transaction
from lodestar.catalog.writes import Outcome, WriteContext

__all__ = [
    "AlreadyExists",
    "Applied",
    "BadRequest",
    "Batch",
    "BulkLine",
    "Catalog",
    "CatalogError",
    "Conflict",
    "DerivedWriter",
    "EdgeChange",
    "EdgeIn",
    "EdgeResult",
    "Forbidden",
    "InvalidInput",
    "Key",
    "NotFound",
    "Outcome",
    "Page",
    "Transaction",
    "Unauthorized",
    "VersionMismatch",
    "WriteContext",
]
