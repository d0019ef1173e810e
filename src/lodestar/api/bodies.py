"""Reading request bodies safely: size cap, content type, JSON depth, NDJSON lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import Request

from lodestar.catalog.errors import BadRequest, CatalogError

MAX_DEPTH = 64
NUL_MESSAGE = "the body holds a NUL character (\\u0000), which cannot be stored; remove it"


class PayloadTooLarge(CatalogError):
    title = "Payload too large"


class UnsupportedMediaType(CatalogError):
    title = "Unsupported media type"


JSON_TYPES = ("application/json", "")
# What `curl -d` sends unless told otherwise, and plain text: a client that says its body is
# not JSON is taken at its word.
_HINT = {
    "application/x-www-form-urlencoded": (
        " (curl -d sends that unless told: add -H 'Content-Type: application/json')"
    ),
    "text/plain": " (add -H 'Content-Type: application/json')",
}


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_bytes(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("the request body is empty: send a JSON document")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"the body is not valid JSON: {e}") from None
    check_raw(raw, value)
    return value


def check_raw(raw: bytes, value: Any) -> None:
    """check_depth, skipped when the raw text proves it unnecessary: fewer brackets than the
    depth limit cannot nest deeper than it, and a NUL can only arrive as the escape \\u0000
    (JSON forbids raw control characters in strings)."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH and b"\\u0000" not in raw:
        return
    check_depth(value)


def check_depth(value: Any) -> None:
    """Refuse documents nested deeper than MAX_DEPTH, and NUL characters anywhere (PostgreSQL
    cannot store them in text or JSONB, so they would fail half-way instead of up front)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > MAX_DEPTH:
            raise BadRequest(f"the JSON document nests deeper than {MAX_DEPTH} levels")
        if isinstance(v, dict):
            for k, x in v.items():
                if "\x00" in k:
                    raise BadRequest(NUL_MESSAGE)
                stack.append((x, d + 1))
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
        elif isinstance(v, str) and "\x00" in v:
            raise BadRequest(NUL_MESSAGE)


async def read_json(request: Request, limit: int, allowed: tuple[str, ...] = JSON_TYPES) -> Any:
    mt = media_type(request)
    if mt not in allowed and not mt.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the body as application/json (got {mt!r}){_HINT.get(mt, '')}"
        )
    return parse_json(await read_bytes(request, limit))


async def ndjson_lines(request: Request, limit: int) -> AsyncIterator[tuple[int, bytes]]:
    """Numbered non-empty lines of an NDJSON body, streamed, with the total size capped."""
    size = 0
    buf = b""
    n = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the bulk body is over the limit of {limit} bytes")
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            n += 1
            if line.strip():
                yield n, line
    if buf.strip():
        yield n + 1, buf
