"""The Python SDK: `LodestarClient` over the HTTP API, and the errors it raises."""

from lodestar.client.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LodestarError,
    NotFound,
    NotReady,
    PreconditionFailed,
    ServerUnreachable,
    Unauthorized,
    UnknownKind,
)
from lodestar.client.http import LodestarClient

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "LodestarClient",
    "LodestarError",
    "NotFound",
    "NotReady",
    "PreconditionFailed",
    "ServerUnreachable",
    "Unauthorized",
    "UnknownKind",
]
