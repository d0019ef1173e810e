"""HEAD answers like GET without a body, and an event cursor past the end is refused."""

from __future__ import annotations

from .support import Api, fqn_path, problem_of


def test_head_answers_like_get_without_a_body(api: Api) -> None:
    seed = api.fresh_seed()
    table = api.put_ok("tables", seed.table_body("headed"))
    for path in (
        f"/api/v1/tables/{table['id']}",
        f"/api/v1/tables/name/{fqn_path(table['fqn'])}",
        "/api/v1/tables?limit=2",
        "/api/v1/events?limit=1",
        "/api/v1/health",
        "/openapi.json",
    ):
        got = api.client.get(path)
        head = api.client.head(path)
        assert head.status_code == got.status_code == 200, (path, head.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("etag") == got.headers.get("etag"), path
    missing = api.client.head("/api/v1/tables/name/no.such.table.here")
    assert missing.status_code == 404
    assert missing.content == b""
    # A route without GET still says which methods it has.
    assert api.client.head("/api/v1/bulk").status_code == 405


def test_an_event_cursor_past_the_last_event_is_refused(api: Api) -> None:
    last = api.last_event()
    at_end = api.get("/api/v1/events", params={"after": str(last)})
    assert at_end.status_code == 200
    assert at_end.json() == {"data": [], "paging": {"after": str(last)}}
    beyond = api.get("/api/v1/events", params={"after": str(last + 1000)})
    assert beyond.status_code == 400, beyond.text
    assert str(last) in problem_of(beyond)["detail"]
