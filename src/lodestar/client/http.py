"""`LodestarClient`: the HTTP API as Python methods, over httpx.

Kinds are named as the catalog names them (`"table"`, `"glossary_term"`); the client maps them
to their collection paths with the server's own `GET /api/v1/kinds`, fetched once.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

import lodestar
from lodestar.client.errors import NotReady, UnknownKind, from_response, unreachable
from lodestar.model.fqn import quote as fqn_quote

Json = dict[str, Any]
JsonList = list[dict[str, Any]]
BulkItem = tuple[str, Mapping[str, Any]] | Mapping[str, Any]

DEFAULT_URL = "http://127.0.0.1:8585"
BULK_CHUNK = 1000
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRY_STATUS = frozenset({502, 503, 504})
MAX_RETRY_AFTER = 10.0


def looks_like_id(value: str) -> bool:
    if len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After in seconds (capped), when it gave one as a number."""
    value = response.headers.get("retry-after", "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else None


def _etag(version: int | str) -> str:
    text = str(version).strip()
    return text if text.startswith(("W/", '"')) or text == "*" else f'"{text}"'


def _as_of(value: str | int | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _fields(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


class LodestarClient:
    """A client for one Lodestar server. Use it as a context manager, or call `close()`.

    Requests that are safe to repeat (GET, PUT, DELETE) are retried on connection errors and on
    502/503/504 answers, `retries` times with exponential backoff; other requests are retried
    only when the connection could not be opened, so nothing is ever sent twice.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
        *,
        retries: int = 3,
        backoff: float = 0.2,
        origin: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"User-Agent": f"lodestar-python/{lodestar.__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if origin:
            headers["X-Lodestar-Origin"] = origin
        # Plain HTTP never uses TLS, and loading the CA bundle costs a CLI call ~0.2 s: give
        # it a context with no trust anchors instead, cheap to make and failing closed.
        verify: ssl.SSLContext | bool = True
        if self.base_url.startswith("http://"):
            verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            verify=verify,
        )
        self._paths: dict[str, str] | None = None

    @classmethod
    def from_env(cls, **kwargs: Any) -> LodestarClient:
        """A client for LODESTAR_URL (default http://127.0.0.1:8585) with LODESTAR_TOKEN."""
        return cls(
            os.environ.get("LODESTAR_URL") or DEFAULT_URL,
            os.environ.get("LODESTAR_TOKEN") or None,
            **kwargs,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LodestarClient({self.base_url!r})"

    # -- transport ----------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        idempotent = method in _IDEMPOTENT
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, params=clean, content=content, headers=headers
                )
            except httpx.TransportError as e:
                # A connection never opened sent nothing: any request may be retried.
                retry = idempotent or isinstance(e, httpx.ConnectError | httpx.ConnectTimeout)
                if not retry or attempt >= self.retries:
                    raise unreachable(self.base_url, e) from None
                delay = self.backoff * 2**attempt
            else:
                if response.status_code not in _RETRY_STATUS or not idempotent:
                    break
                if attempt >= self.retries:
                    break
                delay = _retry_after(response) or self.backoff * 2**attempt
            time.sleep(delay)
            attempt += 1
        if response.status_code >= 400:
            raise from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Any API call not wrapped above (observations, lineage edges, ...)."""
        return self._json(method, path, json_body=json_body, params=params)

    # -- kinds -------------------------------------------------------------------------------
    def kinds(self) -> JsonList:
        """The asset kinds the server knows, with their paths and parent fields."""
        data: JsonList = self._json("GET", "/api/v1/kinds")["data"]
        return data

    def path(self, kind: str) -> str:
        """The collection path of a kind (`"table"` -> `/api/v1/tables`); plurals work too."""
        if self._paths is None:
            paths: dict[str, str] = {}
            for k in self.kinds():
                paths[k["kind"]] = k["path"]
                paths[k["path"].rsplit("/", 1)[-1]] = k["path"]
            self._paths = paths
        found = self._paths.get(kind) or self._paths.get(kind.replace("-", "_"))
        if found is None:
            names = sorted(k for k, p in self._paths.items() if not p.endswith("/" + k))
            raise UnknownKind(
                None, "Unknown kind", f"no asset kind {kind!r}: use one of {', '.join(names)}"
            )
        return found

    def _item(self, kind: str, fqn: str | None, id: str | None) -> str:
        if (fqn is None) == (id is None):
            raise ValueError("name the asset by fqn= or by id=, not both")
        if id is not None:
            return f"{self.path(kind)}/{quote(id, safe='')}"
        assert fqn is not None
        return f"{self.path(kind)}/name/{quote(fqn, safe='')}"

    # -- assets ------------------------------------------------------------------------------
    def get(
        self,
        kind: str,
        fqn: str | None = None,
        id: str | None = None,
        fields: str | Sequence[str] | None = None,
        as_of: str | int | datetime | None = None,
    ) -> Json:
        """One asset by FQN or id; `as_of` reads it as it was then (ISO time or epoch ms)."""
        params = {"fields": _fields(fields), "as_of": _as_of(as_of)}
        asset: Json = self._json("GET", self._item(kind, fqn, id), params=params)
        return asset

    def put(self, kind: str, body: Mapping[str, Any], if_match: int | str | None = None) -> Json:
        """Create or update by FQN; the same body twice makes one version."""
        headers = {"If-Match": _etag(if_match)} if if_match is not None else None
        asset: Json = self._json("PUT", self.path(kind), json_body=dict(body), headers=headers)
        return asset

    def create(self, kind: str, body: Mapping[str, Any]) -> Json:
        """Create; raises `Conflict` when an asset with that FQN exists."""
        asset: Json = self._json("POST", self.path(kind), json_body=dict(body))
        return asset

    def patch(
        self,
        kind: str,
        fqn_or_id: str,
        patch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        json_patch: bool = False,
        if_match: int | str | None = None,
    ) -> Json:
        """JSON Merge Patch (an object), or JSON Patch (a list of operations, json_patch=True)."""
        is_id = looks_like_id(fqn_or_id)
        path = self._item(kind, None if is_id else fqn_or_id, fqn_or_id if is_id else None)
        media = "application/json-patch+json" if json_patch else "application/merge-patch+json"
        headers = {"Content-Type": media}
        if if_match is not None:
            headers["If-Match"] = _etag(if_match)
        body: Any
        if isinstance(patch, Mapping):
            if json_patch:
                raise ValueError("a JSON Patch is a list of operations, not an object")
            body = dict(patch)
        else:
            if not json_patch:
                raise ValueError("a merge patch is an object; pass json_patch=True for a list")
            body = [dict(op) for op in patch]
        asset: Json = self._json("PATCH", path, content=json.dumps(body).encode(), headers=headers)
        return asset

    def delete(
        self,
        kind: str,
        fqn: str | None = None,
        id: str | None = None,
        hard: bool = False,
        recursive: bool = False,
        if_match: int | str | None = None,
    ) -> Json | None:
        """Soft-delete (returns the asset, `deleted: true`); `hard=True` erases (returns None)."""
        params = {"hard": "true" if hard else None, "recursive": "true" if recursive else None}
        headers = {"If-Match": _etag(if_match)} if if_match is not None else None
        result: Json | None = self._json(
            "DELETE", self._item(kind, fqn, id), params=params, headers=headers
        )
        return result

    def restore(self, kind: str, id: str) -> Json:
        """Undo a soft delete (and the soft delete of what it contained)."""
        asset: Json = self._json("POST", f"{self._item(kind, None, id)}/restore")
        return asset

    # -- ingestion pipelines -------------------------------------------------------------------
    def pipeline_id(self, pipeline: str) -> str:
        """A stored pipeline's id, from its name (an id is returned as it is)."""
        if looks_like_id(pipeline):
            return pipeline
        return str(self.get("ingestion_pipeline", fqn=fqn_quote(pipeline))["id"])

    def _pipeline_runs_path(self, pipeline: str) -> str:
        return f"{self._item('ingestion_pipeline', None, self.pipeline_id(pipeline))}/runs"

    def pipeline_runs(self, pipeline: str, limit: int = 20) -> JsonList:
        """A stored pipeline's latest runs (by name or id), newest first, the running one too."""
        data: JsonList = self._json(
            "GET", self._pipeline_runs_path(pipeline), params={"limit": limit}
        )["data"]
        return data

    def run_pipeline(self, pipeline: str) -> Json:
        """Ask the server's scheduler to run a stored pipeline now (by name or id); 409 when it
        is already running, deleted, or the server has no scheduler."""
        queued: Json = self._json("POST", self._pipeline_runs_path(pipeline))
        return queued

    def list(
        self,
        kind: str,
        *,
        parent: str | None = None,
        tag: str | None = None,
        owner: str | None = None,
        include: str | None = None,
        fields: str | Sequence[str] | None = None,
        as_of: str | int | datetime | None = None,
        page_size: int = 100,
        after: str | None = None,
    ) -> Iterator[Json]:
        """Every matching asset, fetching page after page as the iterator is consumed."""
        params: dict[str, Any] = {
            "parent": parent,
            "tag": tag,
            "owner": owner,
            "include": include,
            "fields": _fields(fields),
            "as_of": _as_of(as_of),
            "limit": page_size,
        }
        path = self.path(kind)
        cursor = after
        while True:
            page = self._json("GET", path, params={**params, "after": cursor})
            yield from page["data"]
            cursor = page["paging"].get("after")
            if not cursor or not page["data"]:
                return

    def search(
        self,
        q: str,
        *,
        kind: str | Sequence[str] | None = None,
        tag: str | Sequence[str] | None = None,
        owner: str | Sequence[str] | None = None,
        filters: Mapping[str, str | Sequence[str]] | None = None,
        deleted: bool = False,
        sort: str = "relevance",
        limit: int = 10,
        after: str | None = None,
    ) -> Json:
        """One page of search results: `{"data", "paging", "facets"}` (GET /api/v1/search).
        Filters (kind, service, database, schema, owner, tag, glossary_term, domain) take a
        value or a list of values."""
        params: dict[str, Any] = {"q": q, "sort": sort, "limit": limit}
        for name, value in {"kind": kind, "tag": tag, "owner": owner, **(filters or {})}.items():
            if value:
                params[name] = [value] if isinstance(value, str) else list(value)
        if deleted:
            params["deleted"] = "true"
        if after:
            params["after"] = after
        page: Json = self._json("GET", "/api/v1/search", params=params)
        return page

    def suggest(self, q: str, limit: int = 10) -> JsonList:
        """Assets whose name or FQN starts with what was typed (GET /api/v1/search/suggest)."""
        data: JsonList = self._json(
            "GET", "/api/v1/search/suggest", params={"q": q, "limit": limit}
        )["data"]
        return data

    def versions(self, kind: str, fqn: str | None = None, id: str | None = None) -> JsonList:
        """Every version of an asset, newest first, with what changed and who changed it."""
        if id is None:
            id = self.get(kind, fqn=fqn)["id"]
        data: JsonList = self._json("GET", f"{self._item(kind, None, id)}/versions")["data"]
        return data

    def version(
        self, kind: str, version: int, fqn: str | None = None, id: str | None = None
    ) -> Json:
        """One past version of an asset: its document, change and author."""
        if id is None:
            id = self.get(kind, fqn=fqn)["id"]
        rec: Json = self._json("GET", f"{self._item(kind, None, id)}/versions/{int(version)}")
        return rec

    # -- bulk --------------------------------------------------------------------------------
    def bulk(self, items: Iterable[BulkItem], chunk_size: int = BULK_CHUNK) -> JsonList:
        """Upsert many assets; one status dict per item, in order, with `line` counted from 1
        over all items. A failed item has `result: "error"` and a problem in `error`; the
        others are stored regardless."""
        out: JsonList = []
        lines: list[bytes] = []
        sent = 0

        def flush() -> None:
            nonlocal sent
            response = self._request(
                "POST",
                "/api/v1/bulk",
                content=b"\n".join(lines) + b"\n",
                headers={"Content-Type": "application/x-ndjson"},
            )
            for raw in response.text.splitlines():
                if raw.strip():
                    status = json.loads(raw)
                    status["line"] = sent + int(status["line"])
                    out.append(status)
            sent += len(lines)
            lines.clear()

        for item in items:
            if isinstance(item, tuple):
                kind, body = item
                doc = {**body, "kind": kind}
            else:
                doc = dict(item)
            lines.append(json.dumps(doc, separators=(",", ":")).encode())
            if len(lines) >= chunk_size:
                flush()
        if lines:
            flush()
        return out

    # -- events ------------------------------------------------------------------------------
    def events(
        self, after: str = "0", kinds: Sequence[str] | None = None, limit: int = 100
    ) -> tuple[JsonList, str]:
        """One page of change events after a cursor, and the cursor to continue from."""
        params: dict[str, Any] = {"after": str(after), "limit": limit}
        if kinds:
            params["kind"] = list(kinds)
        page = self._json("GET", "/api/v1/events", params=params)
        data: JsonList = page["data"]
        return data, str(page["paging"]["after"])

    def follow_events(
        self,
        after: str = "0",
        poll_interval: float = 2.0,
        kinds: Sequence[str] | None = None,
    ) -> Iterator[Json]:
        """Change events as they happen, polling every `poll_interval` seconds when caught up.
        It never ends by itself: break out of the loop to stop."""
        cursor = str(after)
        while True:
            data, cursor = self.events(cursor, kinds, limit=1000)
            yield from data
            if len(data) < 1000:
                time.sleep(poll_interval)

    # -- lineage graph -------------------------------------------------------------------------
    def _lineage_item(self, kind: str, fqn: str | None, id: str | None, prefix: str) -> str:
        item = self._item(kind, fqn, id)  # /api/v1/<plural>/...
        return item.replace("/api/v1/", f"/api/v1/lineage/{prefix}", 1)

    def lineage(
        self,
        kind: str,
        fqn: str | None = None,
        id: str | None = None,
        *,
        direction: str = "downstream",
        depth: int | None = 3,
        columns: bool = False,
        limit: int = 500,
        after: str | None = None,
        include_deleted: bool = False,
    ) -> Json:
        """One page of the lineage graph around an asset: `nodes`, `edges` and `paging`
        (pass `paging["after"]` as `after` for the next page)."""
        params: dict[str, Any] = {"direction": direction, "limit": limit}
        if depth is not None:
            params["depth"] = depth
        if columns:
            params["columns"] = "true"
        if after:
            params["after"] = after
        if include_deleted:
            params["include"] = "all"
        page: Json = self._json("GET", self._lineage_item(kind, fqn, id, ""), params=params)
        return page

    def lineage_graph(
        self, kind: str, fqn: str | None = None, id: str | None = None, **kw: Any
    ) -> Json:
        """The whole lineage graph around an asset, every page fetched: `nodes` and `edges`."""
        nodes: JsonList = []
        edges: JsonList = []
        after: str | None = None
        while True:
            page = self.lineage(kind, fqn, id, after=after, **kw)
            nodes += page["nodes"]
            edges += page["edges"]
            after = page["paging"]["after"]
            if after is None:
                return {**page, "nodes": nodes, "edges": edges}

    def impact(
        self,
        kind: str,
        fqn: str | None = None,
        id: str | None = None,
        *,
        column: str | None = None,
        depth: int | None = None,
        limit: int = 500,
        after: str | None = None,
    ) -> Json:
        """What is downstream of an asset (or one of its columns), nearest first, with owners."""
        params: dict[str, Any] = {"limit": limit, "column": column, "depth": depth, "after": after}
        params = {k: v for k, v in params.items() if v is not None}
        path = self._lineage_item(kind, fqn, id, "impact/")
        page: Json = self._json("GET", path, params=params)
        return page

    def lineage_paths(
        self, start: tuple[str, str], end: tuple[str, str], *, depth: int = 10, limit: int = 100
    ) -> Json:
        """Paths from the upstream asset `start` = (kind, fqn) down to `end`, shortest first."""
        params = {
            "from": f"{start[0]}:{start[1]}",
            "to": f"{end[0]}:{end[1]}",
            "depth": depth,
            "limit": limit,
        }
        result: Json = self._json("GET", "/api/v1/lineage/paths", params=params)
        return result

    def add_lineage(self, edges: Sequence[Mapping[str, Any]]) -> Json:
        """Assert lineage edges: `{"from": {"kind", "fqn"}, "to": {...}, "columns": [[up,
        down], ...]}` each; answers the counts and the problems."""
        result: Json = self._json("POST", "/api/v1/lineage/edges", json_body=list(edges))
        return result

    def retract_lineage(
        self, start: tuple[str, str], end: tuple[str, str], *, source: str | None = None
    ) -> Json:
        """Retract the caller's own lineage edge (or `source`'s, for a person)."""
        params = {"from": f"{start[0]}:{start[1]}", "to": f"{end[0]}:{end[1]}", "source": source}
        clean = {k: v for k, v in params.items() if v is not None}
        result: Json = self._json("DELETE", "/api/v1/lineage/edges", params=clean)
        return result

    # -- system ------------------------------------------------------------------------------
    # -- quality -----------------------------------------------------------------------------
    def _quality_path(self, what: str, kind: str, fqn: str) -> str:
        plural = self.path(kind).rsplit("/", 1)[-1]
        middle = f"{what}/" if what else ""
        return f"/api/v1/quality/{middle}{plural}/name/{quote(fqn, safe='')}"

    def quality(self, kind: str, fqn: str) -> Json:
        """An asset's quality status and its tests' latest results."""
        result: Json = self._json("GET", self._quality_path("", kind, fqn))
        return result

    def sla(self, kind: str, fqn: str, window: str = "30d") -> Json:
        """The SLA the asset delivered over `window` (`30d`, `12h`)."""
        result: Json = self._json(
            "GET", self._quality_path("sla", kind, fqn), params={"window": window}
        )
        return result

    def ready(self, kind: str, fqn: str) -> Json:
        """Whether the asset and everything upstream of it is fresh and passing, and why not."""
        result: Json = self._json("GET", self._quality_path("ready", kind, fqn))
        return result

    def wait_ready(
        self, kind: str, fqn: str, *, timeout: float = 3600.0, interval: float = 30.0
    ) -> Json:
        """Block until the asset is ready; `NotReady` (with the last reasons) after `timeout`
        seconds. For an orchestrator task that should not consume bad data."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.ready(kind, fqn)
            if answer.get("ready"):
                return answer
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotReady(answer)
            time.sleep(min(interval, left))

    def health(self) -> Json:
        result: Json = self._json("GET", "/api/v1/health")
        return result

    def create_token(
        self, name: str, role: str, user: str | None = None, ttl_days: int | None = None
    ) -> Json:
        """Issue a token (admin only); the secret in `token` is shown this once."""
        body: dict[str, Any] = {"name": name, "role": role}
        if user is not None:
            body["user"] = user
        if ttl_days is not None:
            body["ttl_days"] = ttl_days
        result: Json = self._json("POST", "/api/v1/tokens", json_body=body)
        return result

    def tokens(self) -> JsonList:
        data: JsonList = self._json("GET", "/api/v1/tokens")["data"]
        return data

    def revoke_token(self, name: str) -> None:
        self._request("DELETE", f"/api/v1/tokens/{quote(name, safe='')}")
