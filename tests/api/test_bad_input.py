"""Bad requests get a clear 4xx problem and leave the catalog as it was; odd but valid names work.

Every case of the corpus is sent to a real server on SQLite and on PostgreSQL. For each one the
answer must be a 4xx (never a 5xx) with an RFC 9457 body, and the stored data must be the same
before and after: the event cursor, the target table in full, and the tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from lodestar.model.fqn import quote as fqn_quote

from .support import Api, Seed, fqn_path, problem_of

pytestmark = pytest.mark.slow  # every test here talks to a server in a subprocess

PREFIX = "bad_"
NEWCOMER = "newcomer"  # the name the bad bodies would create
MAX_BODY = 8 * 1024 * 1024
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
_DROP = object()  # in a body override: leave the key out
BAD_FQNS = {  # a malformed FQN of each fault fqn.split finds
    "empty-part": "a..b",
    "unterminated-quote": '"abc',
    "junk-after-quote": '"a"b',
    "trailing-dot": "a.b.",
    "empty": "",
    "too-long": "a" * 3000,
}


@dataclass
class Target:
    seed: Seed
    table: dict[str, Any]

    @property
    def table_url(self) -> str:
        return f"/api/v1/tables/{self.table['id']}"

    def newcomer_fqn(self) -> str:
        return f"{self.seed.schema}.{NEWCOMER}"


@pytest.fixture(scope="session")
def api_target(api: Api) -> Target:
    seed = api.seed(PREFIX)
    table = api.put_ok(
        "tables",
        seed.table_body(
            "victim",
            description="must survive every bad request",
            owners=seed.owner(seed.alice),
            tags=[seed.tag],
            columns=[
                {"name": "id", "data_type": "bigint", "nullable": False},
                {"name": "email", "data_type": "text", "tags": [seed.tag]},
            ],
        ),
    )
    api.put_ok(
        "custom-properties",
        {"name": f"{PREFIX}tier", "entity_kind": "table", "property_type": "integer"},
    )
    return Target(seed, table)


def snapshot(api: Api, t: Target, *, reads_only: bool = False, watch: tuple[str, ...] = ()) -> Any:
    """What a bad request must not change. Every catalog write makes an event, so the event
    cursor covers all assets; the target table is compared in full as well, and what has no
    events (tokens, observations) through the case's `watch` URLs."""
    state: dict[str, Any] = {"last_event": api.last_event()}
    if not reads_only:
        state["table"] = api.get(t.table_url, params={"fields": "relations"}).json()
    for url in watch:
        state[url] = api.get(url.format(table_url=t.table_url)).json()
    return state


# -- the corpus -----------------------------------------------------------------------------------

Body = Any  # JSON value, raw bytes, or a function of the target giving either


@dataclass
class Bad:
    id: str
    method: str
    path: str  # {table_id}, {table_fqn}, {schema_fqn}, {service_fqn} are filled in
    status: int | tuple[int, ...]  # the answer, or the acceptable answers
    body: Body = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | list[tuple[str, Any]] | None = None
    detail: str | None = None  # a phrase the problem's detail must contain
    watch: tuple[str, ...] = ()  # more reads that must not change ({table_url} is filled in)

    def url(self, t: Target) -> str:
        return self.path.format(
            table_id=t.table["id"],
            table_fqn=fqn_path(t.table["fqn"]),
            schema_fqn=fqn_path(t.seed.schema),
            service_fqn=fqn_path(t.seed.service),
        )

    def send(self, client: httpx.Client, t: Target) -> httpx.Response:
        body = self.body(t) if callable(self.body) else self.body
        kw: dict[str, Any] = {"headers": self.headers, "params": self.params}
        if isinstance(body, bytes | Iterator):
            kw["content"] = body
        elif body is not None:
            kw["json"] = body
        return client.request(self.method, self.url(t), **kw)


def table(**overrides: Any) -> Callable[[Target], dict[str, Any]]:
    """A valid new table body with `overrides` applied (`_DROP` removes a key)."""

    def build(t: Target) -> dict[str, Any]:
        body = t.seed.table_body(NEWCOMER, columns=[{"name": "id", "data_type": "int"}])
        for k, v in overrides.items():
            if v is _DROP:
                body.pop(k, None)
            else:
                body[k] = v
        return body

    return build


def column(**fields: Any) -> Callable[[Target], dict[str, Any]]:
    return table(columns=[{"name": "id", "data_type": "int", **fields}])


def service(**connection: Any) -> Callable[[Target], dict[str, Any]]:
    def build(t: Target) -> dict[str, Any]:
        return {**_service_body(t), "connection": connection}

    return build


def _service_body(t: Target) -> dict[str, Any]:
    return {"name": t.seed.service, "category": "database", "service_type": "postgres"}


def nested_lists(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def chunked_too_large(_: Target) -> Iterator[bytes]:
    """A body without Content-Length, streamed past the limit."""
    yield b'{"name": "newcomer", "description": "'
    for _ in range(MAX_BODY // (1024 * 1024) + 1):
        yield b"a" * (1024 * 1024)
    yield b'"}'


def too_large(t: Target) -> bytes:
    body = orjson.dumps(table(description="")(t))
    return body[:-1] + b', "display_name": "' + b"x" * MAX_BODY + b'"}'


PUT_TABLES = "/api/v1/tables"
BY_ID = "/api/v1/tables/{table_id}"
BY_NAME = "/api/v1/tables/name/{table_fqn}"

WRITES: list[Bad] = [
    # unreadable bodies
    Bad("malformed-json", "PUT", PUT_TABLES, 400, b'{"name": "newcomer",', detail="JSON"),
    Bad("empty-body", "PUT", PUT_TABLES, 400, b"", detail="empty"),
    Bad("blank-body", "PUT", PUT_TABLES, 400, b"  \n "),
    Bad("trailing-garbage", "PUT", PUT_TABLES, 400, b'{"name": "newcomer"} x'),
    Bad("nan-literal", "PUT", PUT_TABLES, 400, b'{"name": "newcomer", "x": NaN}'),
    Bad("invalid-utf8", "PUT", PUT_TABLES, 400, b'{"name": "\xff\xfe"}'),
    Bad("json-array", "PUT", PUT_TABLES, 422, []),
    Bad("json-number", "PUT", PUT_TABLES, 422, 42),
    Bad("json-string", "PUT", PUT_TABLES, 422, "table"),
    Bad("json-null", "PUT", PUT_TABLES, 422, b"null"),
    Bad("deep-lists-1000", "PUT", PUT_TABLES, 400, nested_lists(1000), detail="deep"),
    Bad("deep-objects-1000", "PUT", PUT_TABLES, 400, nested_objects(1000), detail="deep"),
    Bad(
        "deep-inside-a-valid-body",
        "PUT",
        PUT_TABLES,
        400,
        lambda t: orjson.dumps(table()(t))[:-1] + b', "description": ' + nested_lists(100) + b"}",
    ),
    Bad("too-large", "PUT", PUT_TABLES, 413, too_large),
    Bad("too-large-chunked", "PUT", PUT_TABLES, 413, chunked_too_large),
    Bad("too-large-post", "POST", PUT_TABLES, 413, too_large),
    Bad("too-large-patch", "PATCH", BY_ID, 413, too_large, headers=MERGE),
    # wrong content types
    Bad("xml-put", "PUT", PUT_TABLES, 415, b"<table/>", headers={"Content-Type": "text/xml"}),
    Bad("xml-post", "POST", PUT_TABLES, 415, b"<table/>", headers={"Content-Type": "text/xml"}),
    Bad("xml-patch", "PATCH", BY_ID, 415, b"<table/>", headers={"Content-Type": "text/xml"}),
    Bad("xml-bulk", "POST", "/api/v1/bulk", 415, b"<table/>", headers={"Content-Type": "text/xml"}),
    Bad(
        "yaml-put", "PUT", PUT_TABLES, 415, b"name: x", headers={"Content-Type": "application/yaml"}
    ),
    # wrong types
    Bad("columns-as-string", "PUT", PUT_TABLES, 422, table(columns="id int"), detail="columns"),
    Bad("nullable-yes", "PUT", PUT_TABLES, 422, column(nullable="yes"), detail="nullable"),
    Bad("ordinal-minus-one", "PUT", PUT_TABLES, 422, column(ordinal=-1), detail="ordinal"),
    Bad("ordinal-zero", "PUT", PUT_TABLES, 422, column(ordinal=0)),
    Bad("name-as-number", "PUT", PUT_TABLES, 422, table(name=123)),
    Bad("description-as-list", "PUT", PUT_TABLES, 422, table(description=["a"])),
    Bad("tags-as-string", "PUT", PUT_TABLES, 422, table(tags="PII.Sensitive")),
    Bad("table-type-sofa", "PUT", PUT_TABLES, 422, table(table_type="sofa")),
    Bad("column-without-type", "PUT", PUT_TABLES, 422, table(columns=[{"name": "id"}])),
    Bad(
        "duplicate-columns",
        "PUT",
        PUT_TABLES,
        422,
        table(columns=[{"name": "id", "data_type": "int"}, {"name": "id", "data_type": "text"}]),
        detail="twice",
    ),
    Bad(
        "ten-thousand-columns",
        "PUT",
        PUT_TABLES,
        422,
        table(columns=[{"name": f"c{i}", "data_type": "int"} for i in range(10_000)]),
    ),
    # unknown and missing fields
    Bad("unknown-top-level-field", "PUT", PUT_TABLES, 422, table(colour="blue"), detail="colour"),
    Bad("unknown-column-field", "PUT", PUT_TABLES, 422, column(nullible=True), detail="nullible"),
    Bad("missing-name", "PUT", PUT_TABLES, 422, table(name=_DROP), detail="name"),
    Bad("only-read-only-fields", "PUT", PUT_TABLES, 422, {"id": "x", "version": 3}),
    Bad("missing-parent", "PUT", PUT_TABLES, 422, table(schema=_DROP), detail="schema"),
    Bad(
        "parent-does-not-exist",
        "PUT",
        PUT_TABLES,
        422,
        lambda t: table(schema=f"{t.seed.database}.nope")(t),
        detail="nope",
    ),
    Bad("parent-bad-fqn", "PUT", PUT_TABLES, 422, table(schema='a."b')),
    Bad(
        "owner-missing-user",
        "PUT",
        PUT_TABLES,
        422,
        table(owners=[{"kind": "user", "fqn": "nobody_at_all"}]),
        detail="nobody_at_all",
    ),
    Bad(
        "owner-of-unknown-kind",
        "PUT",
        PUT_TABLES,
        422,
        table(owners=[{"kind": "robot", "fqn": "r2d2"}]),
    ),
    Bad("tag-missing", "PUT", PUT_TABLES, 422, table(tags=["PII.Nope"]), detail="PII.Nope"),
    Bad("column-tag-missing", "PUT", PUT_TABLES, 422, column(tags=["Nope.Nope"])),
    # names
    Bad("name-too-long", "PUT", PUT_TABLES, 422, table(name="n" * 257), detail="256"),
    Bad("name-empty", "PUT", PUT_TABLES, 422, table(name="")),
    # Names with white space at an end or control characters are names sources allow
    # (test_names_a_source_allows_round_trip); only empty and NUL are refused.
    Bad("name-nul", "PUT", PUT_TABLES, (400, 422), table(name="new\x00comer")),
    Bad(
        "column-name-nul",
        "PUT",
        PUT_TABLES,
        (400, 422),
        table(columns=[{"name": "a\x00b", "data_type": "int"}]),
    ),
    Bad(
        "column-name-empty",
        "PUT",
        PUT_TABLES,
        422,
        table(columns=[{"name": "", "data_type": "int"}]),
    ),
    # secrets and custom properties
    Bad(
        "clear-password",
        "PUT",
        "/api/v1/services",
        422,
        service(host="db", password="hunter2"),
        detail="${",
    ),
    Bad("clear-api-key", "PUT", "/api/v1/services", 422, service(api_key="abc123"), detail="${"),
    Bad("connection-nested-object", "PUT", "/api/v1/services", 422, service(options={"a": 1})),
    Bad(
        "custom-property-wrong-type",
        "PUT",
        PUT_TABLES,
        422,
        table(custom_properties={f"{PREFIX}tier": "high"}),
        detail="integer",
    ),
    Bad(
        "custom-property-undefined",
        "PUT",
        PUT_TABLES,
        422,
        table(custom_properties={"never_defined": 1}),
        detail="never_defined",
    ),
    Bad(
        "custom-property-enum-without-values",
        "PUT",
        "/api/v1/custom-properties",
        422,
        {"name": "e", "entity_kind": "table", "property_type": "enum"},
    ),
    Bad(
        "custom-property-unknown-type",
        "PUT",
        "/api/v1/custom-properties",
        422,
        {"name": "e", "entity_kind": "table", "property_type": "colour"},
    ),
    # create, concurrency headers
    Bad(
        "create-existing",
        "POST",
        PUT_TABLES,
        409,
        lambda t: t.seed.table_body("victim"),
        detail="exists",
    ),
    Bad("if-match-garbage-put", "PUT", PUT_TABLES, 400, table(), headers={"If-Match": "garbage"}),
    Bad(
        "if-match-garbage-patch",
        "PATCH",
        BY_ID,
        400,
        {"description": "x"},
        headers={**MERGE, "If-Match": "v1"},
    ),
    Bad("if-match-garbage-delete", "DELETE", BY_ID, 400, headers={"If-Match": '"one"'}),
    Bad(
        "if-match-stale-patch",
        "PATCH",
        BY_ID,
        412,
        {"description": "x"},
        headers={**MERGE, "If-Match": '"99"'},
    ),
    Bad("delete-parent-without-recursive", "DELETE", "/api/v1/schemas/name/{schema_fqn}", 409),
    Bad("restore-a-live-asset", "POST", BY_ID + "/restore", 409),
    # patches
    Bad(
        "json-patch-bad-op",
        "PATCH",
        BY_ID,
        422,
        [{"op": "frobnicate", "path": "/description"}],
        headers=JSON_PATCH,
    ),
    Bad("json-patch-no-op", "PATCH", BY_ID, 422, [{"path": "/description"}], headers=JSON_PATCH),
    Bad("json-patch-not-a-list", "PATCH", BY_ID, 422, {"op": "remove"}, headers=JSON_PATCH),
    Bad(
        "json-patch-bad-pointer",
        "PATCH",
        BY_ID,
        422,
        [{"op": "remove", "path": "description"}],
        headers=JSON_PATCH,
    ),
    Bad(
        "json-patch-missing-path",
        "PATCH",
        BY_ID,
        422,
        [{"op": "remove", "path": "/nope"}],
        headers=JSON_PATCH,
    ),
    Bad(
        "json-patch-failed-test",
        "PATCH",
        BY_ID,
        409,
        [{"op": "test", "path": "/name", "value": "other"}],
        headers=JSON_PATCH,
    ),
    Bad(
        "json-patch-leaves-a-string",
        "PATCH",
        BY_ID,
        422,
        [{"op": "replace", "path": "", "value": "x"}],
        headers=JSON_PATCH,
    ),
    Bad(
        "merge-patch-renames",
        "PATCH",
        BY_ID,
        422,
        {"name": "renamed"},
        headers=MERGE,
        detail="name",
    ),
    Bad("merge-patch-renames-by-fqn", "PATCH", BY_NAME, 422, {"name": "renamed"}, headers=MERGE),
    Bad(
        "merge-patch-moves",
        "PATCH",
        BY_ID,
        422,
        lambda t: {"schema": f"{t.seed.database}.elsewhere"},
        headers=MERGE,
    ),
    Bad("merge-patch-invalid-result", "PATCH", BY_ID, 422, {"columns": "x"}, headers=MERGE),
    Bad("merge-patch-unknown-field", "PATCH", BY_ID, 422, {"colour": "blue"}, headers=MERGE),
    Bad("merge-patch-is-an-array", "PATCH", BY_ID, 422, [{"description": "x"}], headers=MERGE),
    Bad("merge-patch-malformed", "PATCH", BY_ID, 400, b'{"description": ', headers=MERGE),
    Bad(
        "patch-unknown-id",
        "PATCH",
        "/api/v1/tables/00000000-0000-0000-0000-000000000000",
        404,
        {"description": "x"},
        headers=MERGE,
    ),
    Bad(
        "patch-unknown-fqn",
        "PATCH",
        "/api/v1/tables/name/no.such.table",
        404,
        {"description": "x"},
        headers=MERGE,
    ),
    # tokens
    Bad("token-bad-role", "POST", "/api/v1/tokens", 422, {"name": "t1", "role": "god"}),
    Bad("token-missing-name", "POST", "/api/v1/tokens", 422, {"role": "viewer"}),
    Bad(
        "token-extra-field", "POST", "/api/v1/tokens", 422, {"name": "t2", "role": "viewer", "x": 1}
    ),
    Bad(
        "token-ttl-zero",
        "POST",
        "/api/v1/tokens",
        422,
        {"name": "t3", "role": "viewer", "ttl_days": 0},
    ),
    Bad("token-malformed", "POST", "/api/v1/tokens", 400, b'{"name": '),
    # NUL characters, which PostgreSQL cannot hold in text: refused before they reach it
    Bad(
        "token-name-nul", "POST", "/api/v1/tokens", (400, 422), {"name": "a\x00b", "role": "viewer"}
    ),
    Bad(
        "token-user-nul",
        "POST",
        "/api/v1/tokens",
        (400, 422),
        {"name": "nul_user", "role": "editor", "user": "a\x00"},
    ),
    Bad("token-delete-nul", "DELETE", "/api/v1/tokens/nul%00del", (400, 404, 422)),
    Bad(
        "observation-name-nul",
        "POST",
        "/api/v1/observations",
        (400, 422),
        lambda t: [{"kind": "table", "fqn": t.table["fqn"], "observation": "x\x00", "value": {}}],
        watch=("{table_url}/observations",),
    ),
    Bad(
        "observation-value-nul",
        "POST",
        "/api/v1/observations",
        (400, 422),
        lambda t: [
            {"kind": "table", "fqn": t.table["fqn"], "observation": "x", "value": {"v": "\x00"}}
        ],
        watch=("{table_url}/observations",),
    ),
    # malformed FQNs in bodies that name assets: refused whole, before anything is written
    *(
        Bad(
            f"observation-fqn-{why}",
            "POST",
            "/api/v1/observations",
            422,
            lambda t, fqn=fqn: [
                {"kind": "table", "fqn": t.table["fqn"], "observation": "x", "value": {}},
                {"kind": "table", "fqn": fqn, "observation": "x", "value": {}},
            ],
            detail="fully qualified name",
            watch=("{table_url}/observations",),
        )
        for why, fqn in BAD_FQNS.items()
    ),
    *(
        Bad(
            f"lineage-fqn-{why}",
            "POST",
            "/api/v1/lineage/edges",
            422,
            lambda t, fqn=fqn: [
                {
                    "from": {"kind": "schema", "fqn": t.seed.schema},
                    "to": {"kind": "table", "fqn": t.table["fqn"]},
                },
                {"from": {"kind": "table", "fqn": fqn}, "to": {"kind": "table", "fqn": "a"}},
            ],
            detail="fully qualified name",
        )
        for why, fqn in BAD_FQNS.items()
    ),
]

WIDE_2026 = "\uff12\uff10\uff12\uff16"  # 2026 in full-width digits

READS: list[Bad] = [
    # FQNs in the path
    Bad("fqn-unterminated-quote", "GET", "/api/v1/tables/name/a.%22b", 422, detail="quote"),
    Bad("fqn-trailing-dot", "GET", "/api/v1/tables/name/{table_fqn}.", 422),
    Bad("fqn-leading-dot", "GET", "/api/v1/tables/name/.a", 422),
    Bad("fqn-empty-part", "GET", "/api/v1/tables/name/a..b", 422),
    Bad("fqn-empty", "GET", "/api/v1/tables/name/", 422),
    Bad("fqn-junk-after-quote", "GET", "/api/v1/tables/name/%22a%22b", 422),
    Bad("fqn-too-long", "GET", "/api/v1/tables/name/" + "a" * 3000, 422),
    Bad("fqn-control-char", "GET", "/api/v1/tables/name/a%0Ab", 404),  # no route matches
    Bad(
        "fqn-sql-injection",
        "GET",
        "/api/v1/tables/name/" + fqn_path("x'; DROP TABLE assets;--"),
        404,
    ),
    Bad("fqn-path-traversal", "GET", "/api/v1/tables/name/" + fqn_path("../../etc/passwd"), 422),
    Bad(
        "fqn-quoted-traversal", "GET", "/api/v1/tables/name/" + fqn_path('"../../etc/passwd"'), 404
    ),
    Bad("delete-bad-fqn", "DELETE", "/api/v1/tables/name/a.%22b", 422),
    Bad("patch-bad-fqn", "PATCH", "/api/v1/tables/name/a..b", 422, {"x": 1}, headers=MERGE),
    Bad("id-not-found", "GET", "/api/v1/tables/not-a-uuid", 404),
    Bad("id-nul", "GET", "/api/v1/tables/a%00b", (400, 404, 422)),
    Bad("id-nul-versions", "GET", "/api/v1/tables/a%00b/versions", (400, 404, 422)),
    Bad("id-nul-observations", "GET", "/api/v1/tables/a%00b/observations", (400, 404, 422)),
    Bad(
        "observation-filter-nul",
        "GET",
        BY_ID + "/observations",
        (400, 422),
        params={"observation": "a\x00"},
    ),
    Bad("id-of-another-kind", "GET", "/api/v1/schemas/{table_id}", 404),
    Bad("unknown-collection", "GET", "/api/v1/spaceships", 404),
    # paging and filters
    Bad("cursor-garbage", "GET", PUT_TABLES, 400, params={"after": "!!!"}, detail="cursor"),
    Bad("cursor-percent", "GET", PUT_TABLES, 400, params={"after": "%%%"}),
    Bad("cursor-words", "GET", PUT_TABLES, 400, params={"after": "not a cursor"}),
    Bad("cursor-binary", "GET", PUT_TABLES, 400, params={"after": "_w"}),
    Bad("cursor-with-nul", "GET", PUT_TABLES, 400, params={"after": "YQBi"}),  # "a\0b"
    Bad("limit-zero", "GET", PUT_TABLES, 422, params={"limit": 0}, detail="limit"),
    Bad("limit-10001", "GET", PUT_TABLES, 422, params={"limit": 10001}),
    Bad("limit-negative", "GET", PUT_TABLES, 422, params={"limit": -1}),
    Bad("limit-word", "GET", PUT_TABLES, 422, params={"limit": "ten"}),
    Bad("include-bogus", "GET", PUT_TABLES, 422, params={"include": "everything"}),
    Bad("fields-bogus", "GET", PUT_TABLES, 422, params={"fields": "children,secrets"}),
    Bad("owner-filter-bogus", "GET", PUT_TABLES, 422, params={"owner": "robot:r2d2"}),
    Bad("owner-filter-no-name", "GET", PUT_TABLES, 422, params={"owner": "user:"}),
    Bad("parent-filter-bad-fqn", "GET", PUT_TABLES, 422, params={"parent": 'a."b'}),
    Bad("tag-filter-bad-fqn", "GET", PUT_TABLES, 422, params={"tag": "PII..x"}),
    Bad("owner-filter-bad-fqn", "GET", PUT_TABLES, 422, params={"owner": 'user:a"b'}),
    Bad("as-of-word", "GET", PUT_TABLES, 422, params={"as_of": "yesterday"}, detail="as_of"),
    Bad("as-of-bad-date", "GET", BY_ID, 422, params={"as_of": "2026-13-45"}),
    Bad("as-of-huge-epoch", "GET", BY_ID, 422, params={"as_of": "9" * 25}),
    # A bare year, a week date and full-width digits are refused, not guessed at.
    Bad("as-of-year", "GET", BY_ID, 422, params={"as_of": "2026"}, detail="as_of"),
    Bad("as-of-week", "GET", BY_ID, 422, params={"as_of": "2026-W01"}, detail="as_of"),
    Bad("as-of-wide-digits", "GET", PUT_TABLES, 422, params={"as_of": WIDE_2026 + "-01-01"}),
    Bad("as-of-huge-epoch-list", "GET", PUT_TABLES, 422, params={"as_of": "9" * 25}),
    Bad("as-of-with-parent", "GET", PUT_TABLES, 422, params={"as_of": "2026-01-01", "parent": "a"}),
    Bad("version-zero", "GET", BY_ID + "/versions/0", 422),
    Bad("version-word", "GET", BY_ID + "/versions/first", 422),
    Bad("version-huge", "GET", BY_ID + "/versions/" + "9" * 25, 422),
    Bad("version-missing", "GET", BY_ID + "/versions/999", 404),
    # the change feed
    Bad("events-after-negative", "GET", "/api/v1/events", 400, params={"after": "-1"}),
    Bad("events-after-word", "GET", "/api/v1/events", 400, params={"after": "start"}),
    Bad("events-after-huge", "GET", "/api/v1/events", 400, params={"after": "9" * 25}),
    Bad("events-limit-zero", "GET", "/api/v1/events", 422, params={"limit": 0}),
    Bad("events-unknown-kind", "GET", "/api/v1/events", 422, params={"kind": "spaceship"}),
]

CASES = WRITES + READS
assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_request_is_a_clear_4xx_and_changes_nothing(
    case: Bad, api: Api, api_target: Target
) -> None:
    watch = ("/api/v1/tokens",) if case.path.startswith("/api/v1/tokens") else case.watch
    how = {"reads_only": case.method == "GET", "watch": watch}
    before = snapshot(api, api_target, **how)
    resp = case.send(api.client, api_target)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:500])
    problem = problem_of(resp)
    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert resp.status_code in expected, problem
    assert problem["type"].startswith("https://"), problem
    if case.detail is not None:
        said = problem["detail"] + " " + orjson.dumps(problem.get("errors", [])).decode()
        assert case.detail in said, problem
    for e in problem.get("errors", []):
        assert isinstance(e["loc"], list) and isinstance(e["msg"], str), problem
    assert snapshot(api, api_target, **how) == before, "a refused request changed stored data"


def test_bulk_reports_each_bad_line_and_stores_nothing(api: Api, api_target: Target) -> None:
    t = api_target
    good = {"kind": "table", **t.seed.table_body(NEWCOMER)}
    bad_lines: list[bytes] = [
        b'{"kind": "table", "name": ',
        b"[1, 2]",
        b'"table"',
        b"42",
        orjson.dumps({k: v for k, v in good.items() if k != "kind"}),
        orjson.dumps({**good, "kind": "spaceship"}),
        orjson.dumps({**good, "kind": 7}),
        orjson.dumps({**good, "columns": "id int"}),
        orjson.dumps({**good, "colour": "blue"}),
        orjson.dumps({**good, "schema": f"{t.seed.database}.nope"}),
        orjson.dumps({**good, "owners": [{"kind": "user", "fqn": "nobody_at_all"}]}),
        orjson.dumps({**good, "name": ""}),
        b'{"kind": "table", "x": ' + nested_lists(200) + b"}",
        orjson.dumps({**_service_body(t), "kind": "service", "connection": {"password": "x"}}),
    ]
    before = snapshot(api, t)
    resp = api.client.post("/api/v1/bulk", content=b"\n".join(bad_lines) + b"\n", headers=NDJSON)
    assert resp.status_code == 200, resp.text
    out = [orjson.loads(line) for line in resp.content.splitlines() if line.strip()]
    assert [o["line"] for o in out] == list(range(1, len(bad_lines) + 1))
    for o in out:
        assert o["result"] == "error", o
        assert 400 <= o["status"] < 500, o
        err = o["error"]
        assert {"type", "title", "status", "detail"} <= err.keys(), o
        assert err["status"] == o["status"], o
    assert snapshot(api, t) == before


def test_nul_characters_are_refused_alike_on_every_backend(api: Api, api_target: Target) -> None:
    """PostgreSQL cannot store U+0000 in JSONB; the API must say so, not fail with a 500,
    and SQLite must not accept what PostgreSQL refuses."""
    before = snapshot(api, api_target)
    for body in (
        {**table(description="before\x00after")(api_target), "name": "nul_probe"},
        {**column(description="\x00")(api_target), "name": "nul_probe"},
        {**table(custom_properties={f"{PREFIX}tier\x00": 1})(api_target), "name": "nul_probe"},
    ):
        resp = api.put("tables", body)
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
        problem_of(resp)
    patch = api.client.patch(api_target.table_url, json={"description": "\x00"}, headers=MERGE)
    assert 400 <= patch.status_code < 500, (patch.status_code, patch.text[:300])
    assert snapshot(api, api_target) == before


def test_a_name_that_makes_the_fqn_too_long_is_refused(api: Api, api_target: Target) -> None:
    """Each part may be 256 characters, but quoting doubles `"`: four such parts pass the
    2048-character FQN limit, which the database column also has."""
    quotes = '"' * 256
    svc = api.put_ok("services", {"name": quotes, "category": "database", "service_type": "pg"})
    db = api.put_ok("databases", {"name": quotes, "service": svc["fqn"]})
    schema = api.put_ok("schemas", {"name": quotes, "database": db["fqn"]})
    assert len(schema["fqn"]) == 3 * 514 + 2
    at_limit = api.put("tables", {"name": '"' * 250 + "x", "schema": schema["fqn"]})
    assert at_limit.status_code in (200, 201), at_limit.text[:300]
    assert len(at_limit.json()["fqn"]) == 2048
    before = snapshot(api, api_target)
    for body in (
        {"name": quotes, "schema": schema["fqn"]},
        {"name": '"' * 251, "schema": schema["fqn"]},  # one character over
    ):
        resp = api.put("tables", body)
        assert resp.status_code == 422, (resp.status_code, resp.text[:300])
        assert "2048" in problem_of(resp)["detail"]
    assert snapshot(api, api_target) == before


# -- odd but valid names --------------------------------------------------------------------------

ODD_NAMES = {
    "emoji": "orders 📦🚀",
    "rtl": "הזמנות",
    "rtl-mixed": "orders_שלום_2024",
    "combining-marks": "cafe\u0301",
    "precomposed": "caf\u00e9",
    "cjk": "注文テーブル",
    "zero-width-joiner": "👩\u200d💻",
    "sql-injection": "x'; DROP TABLE assets;--",
    "sql-injection-2": 'Robert"); DROP TABLE students;--',
    "path-traversal": "../../etc",
    "dot-dot": "..",
    "slashes": "a/b\\c",
    "percent-encoded": "%2e%2e%2f",
    "url-syntax": "?q=1&r=2#frag",
    "quotes": 'it\'s "quoted"',
    "dots": "a.b.c",
    "null-word": "null",
    "max-length": "n" * 256,
}


@pytest.mark.parametrize("name", list(ODD_NAMES.values()), ids=list(ODD_NAMES))
def test_odd_but_valid_names_are_stored_literally_and_round_trip(
    name: str, api: Api, api_target: Target
) -> None:
    seed = api_target.seed
    body = seed.table_body(name, columns=[{"name": name, "data_type": "text"}])
    resp = api.put("tables", body)
    assert resp.status_code in (200, 201), resp.text
    created = resp.json()
    assert created["name"] == name
    assert created["columns"][0]["name"] == name

    by_name = api.by_name("tables", created["fqn"])
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["id"] == created["id"]
    assert by_name.json()["name"] == name
    assert api.get(f"/api/v1/tables/{created['id']}").json()["fqn"] == created["fqn"]
    listed = api.get("/api/v1/tables", params={"parent": seed.schema, "limit": 1000}).json()
    assert created["fqn"] in [a["fqn"] for a in listed["data"]]

    again = api.put("tables", body)
    assert again.headers["X-Lodestar-Change"] == "unchanged", again.text
    patched = api.client.patch(
        f"/api/v1/tables/name/{fqn_path(created['fqn'])}",
        json={"description": f"about {name}"},
        headers=MERGE,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["description"] == f"about {name}"

    # The name also works as a user name, an owner and a filter value.
    user = api.put("users", {"name": name})
    assert user.status_code in (200, 201), user.text
    owned = api.client.patch(
        f"/api/v1/tables/{created['id']}",
        json={"owners": [{"kind": "user", "fqn": user.json()["fqn"]}]},
        headers=MERGE,
    )
    assert owned.status_code == 200, owned.text
    found = api.get("/api/v1/tables", params={"owner": f"user:{user.json()['fqn']}"}).json()
    assert [a["id"] for a in found["data"]] == [created["id"]]


@pytest.mark.parametrize("name", ["trailing ", " leading", "new\tcomer", "line\nbreak", "esc\x1b"])
def test_names_a_source_allows_round_trip(name: str, api: Api, api_target: Target) -> None:
    """A name PostgreSQL allows is stored as it is, under a quoted FQN, and found by it."""
    body = table(name=name, columns=[{"name": f"col {name}", "data_type": "int"}])(api_target)
    stored = api.put_ok("tables", body)
    assert stored["name"] == name
    assert stored["fqn"] == f"{api_target.seed.schema}.{fqn_quote(name)}"
    assert stored["fqn"].endswith('"' + name + '"')
    found = api.by_name("tables", stored["fqn"])
    assert found.status_code == 200, found.text
    assert found.json()["columns"][0]["name"] == f"col {name}"
    again = api.put_ok("tables", body)  # one spelling: the same body is the same asset
    assert (again["id"], again["version"]) == (stored["id"], stored["version"])
