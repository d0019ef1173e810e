"""Domain errors of the catalog. Adapters map each to one response (HTTP status, CLI message).

CatalogError
 ├── InvalidInput      the body or a parameter is wrong (422); `errors` lists each fault
 │    └── BadRequest   the request cannot be read at all (400)
 ├── NotFound          no such asset / version (404)
 ├── AlreadyExists     create of an FQN that exists (409)
 ├── Conflict          the change contradicts stored state, e.g. children without recursive (409)
 ├── VersionMismatch   If-Match names a version that is no longer current (412)
 ├── Unauthorized      no or unknown credentials (401)
 └── Forbidden         the principal may not do this (403)
"""

from __future__ import annotations

from typing import Any


class CatalogError(Exception):
    title = "Catalog error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(CatalogError):
    title = "Invalid input"


class BadRequest(InvalidInput):
    title = "Bad request"


class NotFound(CatalogError):
    title = "Not found"


class AlreadyExists(CatalogError):
    title = "Already exists"


class Conflict(CatalogError):
    title = "Conflict"


class VersionMismatch(CatalogError):
    title = "Precondition failed"


class Unauthorized(CatalogError):
    title = "Unauthorized"


class Forbidden(CatalogError):
    title = "Forbidden"
