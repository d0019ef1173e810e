"""The lean read path: `GET /api/v1/{plural}/name/{fqn}` and `GET /api/v1/{plural}/{id}`
without a query string, answered from one SELECT without FastAPI's per-request work
(dependency solving, parameter parsing, the Request and Response objects).

It only ever answers 200. Whatever it is not sure to answer exactly as the FastAPI route would
(no such asset, any authentication failure, an FQN that does not parse, a query string, HEAD)
it passes on to that route, so every other answer is the route's own by construction. What it
does answer is built the route's way: the same token check (`TokenService.resolve`, the
`anonymous_read` setting), the same presenter (`presenters.asset_fields`), the same header
list (`etag`, `content-length`, `content-type`, as Starlette's `Response` orders them). It sits
where the router would call the route (`routing.py`), so the NUL guard, the metrics middleware
and the error handlers see it as they see the route. `tests/api/test_fast_reads.py` compares
the two paths over HTTP.
"""

from __future__ import annotations

import orjson
from starlette.types import Scope, Send

from lodestar.api import presenters
from lodestar.api.metrics import Metrics
from lodestar.auth.tokens import TokenService
from lodestar.model import fqn as fqn_mod
from lodestar.settings import Settings
from lodestar.store.asset_rows import AssetRow, AssetRows

_JSON = (b"content-type", b"application/json")


class FastReads:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.tokens: TokenService | None = None
        self.rows: AssetRows | None = None

    def start(self, tokens: TokenService, rows: AssetRows | None) -> None:
        self.tokens = tokens
        self.rows = rows

    def stop(self) -> None:
        rows, self.rows = self.rows, None
        if rows is not None:
            rows.close()

    async def serve(
        self, scope: Scope, send: Send, kind: str, fqn: str | None, asset_id: str | None
    ) -> bool:
        """Answer the GET and return True, or return False having sent nothing."""
        row = self._find(scope, kind, fqn, asset_id)
        if row is None:
            self.metrics.fast_passed_on.inc()
            return False
        body = orjson.dumps(
            presenters.asset_fields(
                row.id,
                row.kind,
                row.fqn,
                row.doc,
                row.version,
                row.deleted,
                row.created_at,
                row.updated_at,
                row.updated_by,
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"etag", presenters.etag(row.version).encode("latin-1")),
                    (b"content-length", str(len(body)).encode("latin-1")),
                    _JSON,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self.metrics.fast_served.inc()
        return True

    def _find(
        self, scope: Scope, kind: str, fqn: str | None, asset_id: str | None
    ) -> AssetRow | None:
        rows = self.rows
        if rows is None or not self._may_read(scope):
            return None
        if fqn is not None:
            try:
                norm = fqn_mod.normalize(fqn)
            except fqn_mod.FQNError:
                return None
            return rows.by_fqn(kind, norm)
        if asset_id is None:
            return None
        row = rows.by_id(asset_id)
        return row if row is not None and row.kind == kind else None

    def _may_read(self, scope: Scope) -> bool:
        """What `deps.reader` lets through; a refusal is left to it, to word."""
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if not header:
            return self.settings.anonymous_read
        scheme, _, token = header.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or self.tokens is None:
            return False
        return self.tokens.resolve(token) is not None
