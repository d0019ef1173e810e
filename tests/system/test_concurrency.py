"""Concurrent writers against a real server, on SQLite and on PostgreSQL.

Optimistic concurrency: many clients read a table and patch it with If-Match. Exactly one writer
wins each version; every other gets 412 (never a 500, never a lock error); nothing a winner wrote
is lost; the version history and the event feed list each win once. And concurrent PUT upserts of
the same FQN make one asset, created once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from harness import Server

pytestmark = pytest.mark.slow

THREADS = 16
ATTEMPTS = 15
MERGE_PATCH = "application/merge-patch+json"


@dataclass
class Attempt:
    thread: int
    description: str
    column: str
    read_version: int
    status: int
    body: dict[str, Any]
    etag: str | None


def _run_threads(n: int, work: Callable[[int, threading.Barrier], Any]) -> list[Any]:
    """Run `work(i, barrier)` on n threads that start their requests together."""
    barrier = threading.Barrier(n, timeout=30)
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(work, i, barrier) for i in range(n)]
        return [f.result() for f in futures]


def _unexpected(attempts: list[Attempt], allowed: set[int]) -> list[tuple[int, dict[str, Any]]]:
    return [(a.status, a.body) for a in attempts if a.status not in allowed][:5]


def test_if_match_patches_from_many_clients_lose_nothing(
    shared_server: Server,
) -> None:
    server = shared_server
    with server.client() as c:
        schema = server.seed_schema(c, "if_match")
        r = c.put(
            "/api/v1/tables",
            json={
                "name": "orders",
                "schema": schema,
                "description": "start",
                "columns": [{"name": "id", "data_type": "int"}],
            },
        )
        assert r.status_code == 201, r.text
        table_id, v0 = r.json()["id"], r.json()["version"]
        cursor = server.last_event(c)
    url = f"/api/v1/tables/{table_id}"

    def work(t: int, barrier: threading.Barrier) -> list[Attempt]:
        out: list[Attempt] = []
        with server.client() as c:
            barrier.wait()
            for a in range(ATTEMPTS):
                got = c.get(url)
                assert got.status_code == 200, got.text
                read = got.json()
                assert got.headers["ETag"] == f'"{read["version"]}"'
                desc, col = f"written by thread {t} attempt {a}", f"c_{t}_{a}"
                # A read-modify-write: the new column list is the one read plus one column, so a
                # write based on a stale read would drop the columns added since.
                patch = {
                    "description": desc,
                    "columns": [*read["columns"], {"name": col, "data_type": "int"}],
                }
                r = c.patch(
                    url,
                    content=json.dumps(patch),
                    headers={"Content-Type": MERGE_PATCH, "If-Match": got.headers["ETag"]},
                )
                out.append(
                    Attempt(
                        t,
                        desc,
                        col,
                        read["version"],
                        r.status_code,
                        r.json(),
                        r.headers.get("ETag"),
                    )
                )
        return out

    attempts = [a for per_thread in _run_threads(THREADS, work) for a in per_thread]
    assert len(attempts) == THREADS * ATTEMPTS
    assert not _unexpected(attempts, {200, 412}), (
        f"only 200 and 412 are acceptable: {_unexpected(attempts, {200, 412})}\n{server.log_tail()}"
    )
    wins = sorted((a for a in attempts if a.status == 200), key=lambda a: a.body["version"])
    losses = [a for a in attempts if a.status == 412]
    assert wins, "no PATCH succeeded"
    assert losses, "no PATCH lost a race: the test did not make the writers contend"

    # Each win made exactly the version after the one it read, and no two wins share a version.
    won_versions = [a.body["version"] for a in wins]
    assert len(set(won_versions)) == len(won_versions), Counter(won_versions).most_common(3)
    for a in wins:
        assert a.body["version"] == a.read_version + 1, (a.read_version, a.body["version"])
        assert a.etag == f'"{a.body["version"]}"'
        assert a.body["description"] == a.description
    # Each loss read a version that some win had already replaced; its answer is a problem.
    for a in losses:
        assert a.read_version + 1 in set(won_versions), a.read_version
        assert a.body["status"] == 412 and a.body["type"].endswith("/precondition-failed")

    with server.client() as c:
        final = c.get(url).json()
        assert len(wins) == final["version"] - v0
        assert won_versions == list(range(v0 + 1, final["version"] + 1))
        # No lost update: every winner's column is there, in the order the wins happened.
        assert [col["name"] for col in final["columns"]] == ["id"] + [a.column for a in wins]
        assert final["description"] == wins[-1].description

        history = c.get(f"{url}/versions").json()["data"]
        after = sorted((h for h in history if h["version"] > v0), key=lambda h: h["version"])
        assert [h["version"] for h in after] == won_versions
        for h, a in zip(after, wins, strict=True):
            assert h["doc"]["description"] == a.description
            assert h["change_description"]["previous_version"] == h["version"] - 1

        events = [e for e in server.events(c, cursor) if e["id"] == table_id]
        assert {e["event_type"] for e in events} == {"entity_updated"}
        assert Counter(e["version"] for e in events) == Counter(won_versions)
        # Events are numbered in commit order, so their versions ascend with their seqs.
        by_seq = sorted(events, key=lambda e: e["seq"])
        assert [e["version"] for e in by_seq] == won_versions


def test_parallel_puts_of_distinct_tables_all_create(shared_server: Server) -> None:
    server = shared_server
    per_thread = 4
    with server.client() as c:
        schema = server.seed_schema(c, "distinct")
        cursor = server.last_event(c)

    def work(t: int, barrier: threading.Barrier) -> list[httpx.Response]:
        with server.client() as c:
            barrier.wait()
            return [
                c.put(
                    "/api/v1/tables",
                    json={
                        "name": f"t_{t}_{i}",
                        "schema": schema,
                        "columns": [{"name": "id", "data_type": "int"}],
                    },
                )
                for i in range(per_thread)
            ]

    responses = [r for rs in _run_threads(THREADS, work) for r in rs]
    bad = [(r.status_code, r.text) for r in responses if r.status_code != 201][:5]
    assert not bad, f"{bad}\n{server.log_tail()}"
    assert {r.headers["X-Lodestar-Change"] for r in responses} == {"created"}
    assert {r.json()["version"] for r in responses} == {1}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == THREADS * per_thread

    with server.client() as c:
        listed = c.get("/api/v1/tables", params={"parent": schema, "limit": 1000}).json()
        assert listed["paging"]["total"] == THREADS * per_thread
        assert {a["id"] for a in listed["data"]} == ids
        events = server.events(c, cursor)
        assert Counter((e["event_type"], e["id"]) for e in events) == Counter(
            ("entity_created", i) for i in ids
        )


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "different-bodies"])
def test_parallel_puts_of_one_table_create_it_once(shared_server: Server, same_body: bool) -> None:
    """Racing upserts of one FQN without If-Match: one creates, the others see it (unchanged
    for an identical body, updated for a different one). None fails: without If-Match there
    is no precondition to answer 412 to, and a write-write race is the server's to resolve."""
    server = shared_server
    with server.client() as c:
        schema = server.seed_schema(c, "same_body" if same_body else "different_bodies")
        cursor = server.last_event(c)

    def work(t: int, barrier: threading.Barrier) -> httpx.Response:
        body = {
            "name": "shared",
            "schema": schema,
            "description": "the same" if same_body else f"from thread {t}",
            "columns": [{"name": "id", "data_type": "int"}],
        }
        with server.client() as c:
            barrier.wait()
            return c.put("/api/v1/tables", json=body)

    responses = _run_threads(THREADS, work)
    bad = [(r.status_code, r.text) for r in responses if r.status_code not in (200, 201)][:5]
    assert not bad, f"{bad}\n{server.log_tail()}"
    changes = Counter(r.headers["X-Lodestar-Change"] for r in responses)
    assert changes["created"] == 1, changes
    assert [r.status_code for r in responses].count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    table_id = responses[0].json()["id"]

    with server.client() as c:
        final = c.get(f"/api/v1/tables/{table_id}").json()
        history = c.get(f"/api/v1/tables/{table_id}/versions").json()["data"]
        events = [e for e in server.events(c, cursor) if e["id"] == table_id]
        listed = c.get("/api/v1/tables", params={"parent": schema}).json()
    assert listed["paging"]["total"] == 1
    if same_body:
        assert changes == {"created": 1, "unchanged": THREADS - 1}
        assert final["version"] == 1
        assert [h["version"] for h in history] == [1]
        assert [(e["event_type"], e["version"]) for e in events] == [("entity_created", 1)]
    else:
        assert changes == {"created": 1, "updated": THREADS - 1}
        assert sorted(r.json()["version"] for r in responses) == list(range(1, THREADS + 1))
        assert final["version"] == THREADS
        wrote = {r.json()["version"]: r.json()["description"] for r in responses}
        assert {h["version"]: h["doc"]["description"] for h in history} == wrote
        assert final["description"] == wrote[THREADS]
        assert sorted((e["version"], e["event_type"]) for e in events) == [
            (1, "entity_created"),
            *((v, "entity_updated") for v in range(2, THREADS + 1)),
        ]
