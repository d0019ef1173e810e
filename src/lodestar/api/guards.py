"""Refuse NUL characters in paths and query strings before any route sees them: no database
can store them, and PostgreSQL would fail in the middle of a request instead of up front."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lodestar.api.problems import problem_body


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            query: bytes = scope.get("query_string", b"")
            if "\x00" in path or b"\x00" in unquote_to_bytes(query):
                body = orjson.dumps(
                    problem_body(
                        400,
                        "Bad request",
                        "the URL holds a NUL character (%00), which no name can contain",
                    )
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class HeadAsGet:
    """HEAD answers as GET would, without the body (RFC 9110 9.3.2): FastAPI routes declare
    GET only, so HEAD got 405 everywhere. Runs outermost, so routing, metrics and the lean
    read path all see a GET; only the body is dropped on the way out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
