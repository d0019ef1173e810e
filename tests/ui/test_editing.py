"""Login, sessions, CSRF, roles and editing through the web UI, over real HTTP on SQLite and
PostgreSQL: every write is checked in the catalog afterwards."""

from __future__ import annotations

import time
import uuid
from html import unescape
from typing import Any

import httpx

from lodestar.auth.principal import Principal
from lodestar.auth.tokens import TokenService, hash_token
from lodestar.catalog import Key, WriteContext
from lodestar.ui import session as sess
from lodestar.ui.render import edit_url

from .harness import TABLE, UiServer, csrf_of

STEWARD = WriteContext.for_principal(Principal("rival-steward", "steward"))


def _owned_table(ui: UiServer, **fields: Any) -> str:
    """A fresh table the editor's user owns."""
    name = f"e_{uuid.uuid4().hex[:10]}"
    body = {
        "name": name,
        "schema": "warehouse.analytics.marts",
        "columns": [{"name": "id", "data_type": "bigint"}],
        "owners": [{"kind": "user", "fqn": ui.editor_user}],
        **fields,
    }
    ui.catalog.upsert("table", body, STEWARD)
    return f"warehouse.analytics.marts.{name}"


def _doc(ui: UiServer, fqn: str) -> dict[str, Any]:
    return ui.catalog.get("table", Key(fqn=fqn)).doc


def _version(ui: UiServer, fqn: str) -> int:
    return ui.catalog.get("table", Key(fqn=fqn)).version


def _textarea(html: str, name: str) -> str:
    return unescape(html.split(f'name="{name}" rows="')[1].split(">", 1)[1].split("</textarea>")[0])


def _form(c: httpx.Client, fqn: str) -> dict[str, str]:
    """The edit form's fields as the page fills them in."""
    page = c.get(edit_url("table", fqn))
    assert page.status_code == 200, page.text
    version = page.text.split('name="version" value="')[1].split('"')[0]
    fields = {
        f: _textarea(page.text, f) for f in ("description", "owners", "tags", "glossary_terms")
    }
    return {"csrf": csrf_of(page.text), "version": version, "action": "save", **fields}


def test_login_sets_a_signed_httponly_samesite_cookie_and_never_the_token(ui: UiServer) -> None:
    with ui.client() as c:
        page = c.get("/ui/login")
        login_cookie = page.headers["set-cookie"]
        assert "HttpOnly" in login_cookie and "SameSite=lax" in login_cookie
        r = c.post(
            "/ui/login",
            data={"token": ui.tokens["viewer"], "csrf": csrf_of(page.text), "next": "/ui/glossary"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/ui/glossary"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("lds_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui/" in cookie
        assert "Secure" not in cookie  # plain http here
        assert ui.tokens["viewer"] not in cookie
        assert "ui-viewer" in c.get("/ui/").text


def test_login_over_https_marks_the_cookie_secure(ui: UiServer) -> None:
    https = {"x-forwarded-proto": "https"}  # uvicorn trusts it from 127.0.0.1
    with ui.client() as c:
        page = c.get("/ui/login", headers=https)
        login_cookie = page.headers["set-cookie"]
        assert "Secure" in login_cookie
        value = login_cookie.split(";")[0]  # a browser on https sends it back
        r = c.post(
            "/ui/login",
            headers={**https, "cookie": value},
            data={"token": ui.tokens["viewer"], "csrf": csrf_of(page.text)},
        )
        assert r.status_code == 303
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("lds_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_a_bad_token_or_a_login_form_from_elsewhere_is_refused(ui: UiServer) -> None:
    with ui.client() as c:
        page = c.get("/ui/login")
        r = c.post("/ui/login", data={"token": "lds_not-a-token", "csrf": csrf_of(page.text)})
        assert r.status_code == 401 and "unknown, expired or revoked" in r.text
        assert "lds_session" not in r.headers.get("set-cookie", "")
    with ui.client() as c:  # no login cookie: a form posted from another site
        r = c.post("/ui/login", data={"token": ui.tokens["admin"], "csrf": "made-up"})
        assert r.status_code == 403 and "lds_session" not in r.headers.get("set-cookie", "")
    with ui.client() as c:
        page = c.get("/ui/login")
        r = c.post("/ui/login", data={"token": ui.tokens["admin"], "csrf": "made-up"})
        assert r.status_code == 403
        r = c.post(
            "/ui/login",
            data={
                "token": ui.tokens["admin"],
                "csrf": csrf_of(page.text),
                "next": "https://evil.example/",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/ui/"


def test_an_owner_edits_description_owners_tags_and_terms_and_sees_the_new_version(
    ui: UiServer,
) -> None:
    fqn = _owned_table(ui, description="old text")
    before = _version(ui, fqn)
    with ui.login("editor") as c:
        form = _form(c, fqn)
        form.update(
            description="# Orders\n\nOne row per **order**.",
            owners=f"user:{ui.editor_user}\nteam:analytics",
            tags="Tier.Tier2",
            glossary_terms="Business.Order",
        )
        r = c.post(edit_url("table", fqn), data=form)
        assert r.status_code == 303, r.text
        page = c.get(r.headers["location"])
        assert f"Saved as version {before + 1}" in page.text
        assert "<h1>Orders</h1>" in page.text and "<strong>order</strong>" in page.text
        diff_link = page.text.split('role="status">')[1].split('href="')[1].split('"')[0]
        diff = c.get(diff_link.replace("&amp;", "&")).text
        assert f"Version {before} → {before + 1}" in diff
        assert "<del><pre>old text</pre></del>" in diff
    doc = _doc(ui, fqn)
    assert doc["description"] == "# Orders\n\nOne row per **order**."
    assert doc["owners"] == [
        {"kind": "user", "fqn": ui.editor_user},
        {"kind": "team", "fqn": "analytics"},
    ]
    assert doc["tags"] == ["Tier.Tier2"] and doc["glossary_terms"] == ["Business.Order"]
    latest = max(ui.catalog.versions("table", Key(fqn=fqn)), key=lambda v: v.version)
    assert latest.version == before + 1 and latest.actor == "ui-editor"
    assert latest.origin == "person"


def test_preview_renders_markdown_without_saving(ui: UiServer) -> None:
    fqn = _owned_table(ui, description="kept")
    before = _version(ui, fqn)
    with ui.login("editor") as c:
        form = _form(c, fqn)
        form.update(description="*new* <b>x</b>", action="preview")
        r = c.post(edit_url("table", fqn), data=form)
        assert r.status_code == 200 and "<em>new</em> &lt;b&gt;x&lt;/b&gt;" in r.text
        # The token is masked afresh on every page (no repeated secret in compressed pages).
        again = _form(c, fqn)["csrf"]
        assert again != form["csrf"]
        frag = c.post("/ui/preview", data={"csrf": again, "description": "**b**"})
        assert frag.text.strip() == "<p><strong>b</strong></p>"
        assert c.post("/ui/preview", data={"csrf": "forged", "description": "x"}).status_code == 403
    assert _version(ui, fqn) == before and _doc(ui, fqn)["description"] == "kept"


def test_a_viewer_cannot_edit(ui: UiServer) -> None:
    fqn = _owned_table(ui, description="untouched")
    before = _version(ui, fqn)
    with ui.login("viewer") as c:
        assert ">Edit</a>" not in c.get(f"/ui/assets/table/{fqn}").text
        r = c.get(edit_url("table", fqn))
        assert r.status_code == 403 and "may read but not change metadata" in r.text
        csrf = csrf_of(c.get("/ui/").text)  # the logout form carries the session's token
        r = c.post(
            edit_url("table", fqn),
            data={
                "csrf": csrf,
                "version": str(before),
                "description": "hacked",
                "owners": "",
                "tags": "",
                "glossary_terms": "",
            },
        )
        assert r.status_code == 403
    assert _version(ui, fqn) == before and _doc(ui, fqn)["description"] == "untouched"


def test_an_editor_cannot_edit_what_they_do_not_own(ui: UiServer) -> None:
    before = _version(ui, TABLE)
    with ui.login("outsider") as c:
        form = _form(c, TABLE)
        form.update(description="not mine to change")
        r = c.post(edit_url("table", TABLE), data=form)
        assert r.status_code == 403
        assert "not allowed" in r.text.lower()
    assert _version(ui, TABLE) == before


def test_a_forged_or_missing_csrf_token_is_refused(ui: UiServer) -> None:
    fqn = _owned_table(ui, description="safe")
    before = _version(ui, fqn)
    with ui.login("editor") as c:
        form = _form(c, fqn)
        form.update(description="forged")
        for bad in ("forged-token", ""):
            r = c.post(edit_url("table", fqn), data={**form, "csrf": bad})
            assert r.status_code == 403 and "security token" in r.text
        no_field = {k: v for k, v in form.items() if k != "csrf"}
        assert c.post(edit_url("table", fqn), data=no_field).status_code == 403
    # Another session's token does not work either.
    with ui.login("steward") as other:
        stolen = _form(other, fqn)["csrf"]
    with ui.login("editor") as c:
        form = _form(c, fqn)
        r = c.post(edit_url("table", fqn), data={**form, "description": "x", "csrf": stolen})
        assert r.status_code == 403
    assert _version(ui, fqn) == before and _doc(ui, fqn)["description"] == "safe"


def test_a_concurrent_edit_is_shown_instead_of_overwritten(ui: UiServer) -> None:
    fqn = _owned_table(ui, description="original")
    with ui.login("editor") as c:
        form = _form(c, fqn)
        read_at = int(form["version"])
        # Someone else changes the description while the form is open.
        ui.catalog.patch(
            "table", Key(fqn=fqn), {"description": "theirs"}, STEWARD, json_patch=False
        )
        form.update(description="mine")
        r = c.post(edit_url("table", fqn), data=form)
        assert r.status_code == 409
        assert "Changed by someone else" in r.text
        assert f"Version {read_at + 1} by <strong>rival-steward</strong>" in r.text
        assert "changed description" in r.text
        assert ">mine</textarea>" in r.text  # the user's text is kept
        assert _doc(ui, fqn)["description"] == "theirs"
        # Saving again from the conflict page is a deliberate overwrite.
        again = {
            **form,
            "csrf": csrf_of(r.text),
            "version": r.text.split('name="version" value="')[1].split('"')[0],
        }
        assert int(again["version"]) == read_at + 1
        assert c.post(edit_url("table", fqn), data=again).status_code == 303
    assert _doc(ui, fqn)["description"] == "mine"


def test_a_concurrent_change_to_other_fields_does_not_block_an_edit(ui: UiServer) -> None:
    fqn = _owned_table(ui, description="original")
    with ui.login("editor") as c:
        form = _form(c, fqn)
        ui.catalog.patch("table", Key(fqn=fqn), {"tags": ["Tier.Tier3"]}, STEWARD, json_patch=False)
        form.update(description="mine")
        assert c.post(edit_url("table", fqn), data=form).status_code == 303
    doc = _doc(ui, fqn)
    assert doc["description"] == "mine" and doc["tags"] == ["Tier.Tier3"]


def test_bad_input_is_explained_and_nothing_is_written(ui: UiServer) -> None:
    fqn = _owned_table(ui, description="same")
    before = _version(ui, fqn)
    with ui.login("editor") as c:
        form = _form(c, fqn)
        r = c.post(edit_url("table", fqn), data={**form, "owners": "alice"})
        assert r.status_code == 422 and "write user:&lt;name&gt; or team:&lt;name&gt;" in r.text
        r = c.post(edit_url("table", fqn), data={**form, "tags": "No.SuchTag"})
        assert r.status_code == 422 and "No.SuchTag" in r.text
        r = c.post(edit_url("table", fqn), data={**form, "version": "x"})
        assert r.status_code == 422
        r = c.post(
            edit_url("table", fqn), content=b"{}", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        r = c.post(edit_url("table", fqn), data={**form, "description": "x" * 600_000})
        assert r.status_code == 400
        same = c.post(edit_url("table", fqn), data=form)
        assert same.status_code == 303 and "notice=unchanged" in same.headers["location"]
    assert _version(ui, fqn) == before


def test_logout_ends_the_session(ui: UiServer) -> None:
    with ui.login("editor") as c:
        csrf = csrf_of(c.get("/ui/").text)
        r = c.post("/ui/logout", data={"csrf": csrf})
        assert r.status_code == 303
        assert 'lds_session=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
        assert c.get(edit_url("table", TABLE)).status_code == 303  # to the login page


def test_a_revoked_token_ends_its_sessions(ui: UiServer) -> None:
    name = f"short-{uuid.uuid4().hex[:6]}"
    service = TokenService(ui.store)
    secret = service.issue(name, "viewer")
    with ui.client() as c:
        page = c.get("/ui/login")
        assert (
            c.post("/ui/login", data={"token": secret, "csrf": csrf_of(page.text)}).status_code
            == 303
        )
        assert c.get("/ui/glossary").status_code == 200
        service.revoke(name)
        time.sleep(1.2)  # the server's token cache re-checks revocations every second
        assert c.get("/ui/glossary").status_code == 303


def test_an_expired_or_tampered_session_cookie_is_not_accepted(ui: UiServer) -> None:
    with ui.client() as c:
        assert c.get("/ui/login").status_code == 200  # the server has its key by now
    key = bytes.fromhex((ui.data_dir / sess.KEY_FILE).read_text().strip())
    signer = sess.Signer(key)
    h = hash_token(ui.tokens["admin"])
    expired = signer.sign(sess.COOKIE, {"h": h, "exp": time.time() - 5, "csrf": "x"})
    valid = signer.sign(sess.COOKIE, {"h": h, "exp": time.time() + 60, "csrf": "x"})
    forged = sess.Signer(b"k" * 32).sign(
        sess.COOKIE, {"h": h, "exp": time.time() + 60, "csrf": "x"}
    )
    for cookie, status in ((expired, 303), (forged, 303), (valid + "x", 303), (valid, 200)):
        with httpx.Client(base_url=ui.url, cookies={sess.COOKIE: cookie}) as c:
            assert c.get("/ui/glossary").status_code == status
