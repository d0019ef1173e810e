"""Every page of the web UI over real HTTP, on SQLite and PostgreSQL: what a reader sees."""

from __future__ import annotations

import re
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from markupsafe import Markup

from lodestar.auth.principal import Principal
from lodestar.catalog import Catalog, Key, WriteContext
from lodestar.ingest.recipe import parse_recipe
from lodestar.ingest.service import run_recipe
from lodestar.model.records import Asset
from lodestar.settings import Settings
from lodestar.ui import extensions
from lodestar.ui.render import asset_url

from .harness import TABLE, UiServer, ui_server

STEWARD = WriteContext.for_principal(Principal("test-steward", "steward"))


def _table(ui: UiServer, **fields: Any) -> str:
    name = f"t_{uuid.uuid4().hex[:10]}"
    body = {"name": name, "schema": "warehouse.analytics.marts", **fields}
    body.setdefault("columns", [{"name": "id", "data_type": "bigint"}])
    ui.catalog.upsert("table", body, STEWARD)
    return f"warehouse.analytics.marts.{name}"


def test_a_browser_asking_for_the_root_lands_on_the_ui_and_the_api_is_unchanged(
    ui: UiServer,
) -> None:
    with ui.client() as c:
        r = c.get("/", headers={"accept": "text/html,application/xhtml+xml"})
        assert r.status_code == 303 and r.headers["location"] == "/ui/"
        r = c.get("/", headers={"accept": "application/json"})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert c.get("/ui").headers["location"] == "/ui/"
        api = c.get(
            f"/api/v1/tables/name/{TABLE}",
            headers={"authorization": f"Bearer {ui.tokens['viewer']}"},
        )
        assert api.status_code == 200 and api.json()["fqn"] == TABLE


def test_reading_needs_a_login_when_anonymous_reading_is_off(ui: UiServer) -> None:
    with ui.client() as c:
        r = c.get(f"/ui/assets/table/{TABLE}?tab=schema")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/ui/login?next=%2Fui%2Fassets%2Ftable%2F")
        page = c.get(r.headers["location"])
        assert page.status_code == 200
        assert '<label for="token">API token</label>' in page.text


def test_home_finds_assets_by_name_prefix_and_lists_recent_changes_and_my_assets(
    ui: UiServer,
) -> None:
    with ui.login("editor") as c:
        home = c.get("/ui/", params={"q": "warehouse.analytics.marts.fct_"})
        assert home.status_code == 200
        assert f'href="/ui/assets/table/{TABLE}"' in home.text
        hits = re.findall(r'href="/ui/assets/table/([^"]+)"', home.text.split("Recently")[0])
        assert hits and all(h.startswith("warehouse.analytics.marts.fct_") for h in hits)
        # "My assets": the editor's user owns fct_orders in the demo.
        mine = home.text.split('id="mine-h"')[1].split("</section>")[0]
        assert "fct_orders" in mine
        none = c.get("/ui/", params={"q": "no.such.prefix"})
        assert "0 results" in none.text
        fqn = _table(ui, description="fresh")
        recent = c.get("/ui/").text.split('id="recent-h"')[1]
        assert fqn.rsplit(".", 1)[1] in recent.split("</li>")[0]


def test_the_asset_page_overview_shows_what_the_catalog_holds(ui: UiServer) -> None:
    asset = ui.catalog.get("table", Key(fqn=TABLE))
    with ui.login("viewer") as c:
        r = c.get(f"/ui/assets/table/{TABLE}")
    assert r.status_code == 200
    text = r.text
    for owner in asset.doc["owners"]:
        assert f">{owner['fqn']}</a>" in text
    for tag in asset.doc["tags"]:
        assert f">{tag}</a>" in text
    for term in asset.doc["glossary_terms"]:
        assert f">{term}</a>" in text
    assert f">{asset.doc['domain']}</a>" in text
    for key in asset.doc["custom_properties"]:
        assert f"<dt>{key}</dt>" in text
    # The markdown is rendered: the demo description has inline code.
    assert "<code>net_revenue</code>" in text
    # Viewers see no edit button; lineage and quality tabs are absent without those capabilities.
    assert ">Edit</a>" not in text
    assert "Lineage" not in text and "Quality" not in text
    assert r.headers["cache-control"] == "private, no-store"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_schema_tab_lists_columns_with_types_keys_descriptions_and_tags(ui: UiServer) -> None:
    fqn = _table(
        ui,
        columns=[
            {
                "name": "order_id",
                "data_type": "bigint",
                "constraint": "primary_key",
                "description": "The **order**",
            },
            {"name": "customer_email", "data_type": "varchar(255)", "tags": ["PII.Sensitive"]},
        ],
        constraints=[
            {
                "type": "foreign_key",
                "columns": ["order_id"],
                "referred_table": TABLE,
                "referred_columns": ["order_id"],
            }
        ],
    )
    with ui.login("viewer") as c:
        text = c.get(f"/ui/assets/table/{fqn}", params={"tab": "schema"}).text
    rows = text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert "<code>order_id</code>" in rows[0] and "<code>bigint</code>" in rows[0]
    assert "primary key" in rows[0] and f"foreign key → {TABLE}" in rows[0]
    assert "<strong>order</strong>" in rows[0]
    assert "<code>varchar(255)</code>" in rows[1] and ">PII.Sensitive</a>" in rows[1]


def test_sample_data_is_shown_as_stored_with_sensitive_columns_masked(ui: UiServer) -> None:
    fqn = _table(
        ui,
        columns=[
            {"name": "id", "data_type": "int"},
            {"name": "secret_code", "data_type": "text", "tags": ["PII.Sensitive"]},
            {"name": "email", "data_type": "text"},
            {"name": "city", "data_type": "text"},
        ],
        sample_data={
            "columns": ["id", "secret_code", "email", "city"],
            "rows": [[1, "XK-991", "ada@example.com", "Lyon"]],
        },
    )
    with ui.login("viewer") as c:
        text = c.get(f"/ui/assets/table/{fqn}", params={"tab": "sample"}).text
    row = text.split("<tbody>")[1].split("</tbody>")[0]
    assert "<td>1</td>" in row and "<td>Lyon</td>" in row
    assert "XK-991" not in text and "ada@example.com" not in text
    assert row.count("<td>***</td>") == 2
    assert "Masked: secret_code, email" in text


def test_a_description_cannot_inject_html_or_script_links(ui: UiServer) -> None:
    fqn = _table(
        ui,
        description=(
            '<script>alert("x")</script> <img src=x onerror=alert(1)> '
            "[click](javascript:alert(1)) [ok](https://example.com/a)"
        ),
    )
    with ui.login("viewer") as c:
        text = c.get(f"/ui/assets/table/{fqn}").text
    body = text.split('class="md">')[1].split("</div>")[0]
    assert "<script" not in body and "<img" not in body
    assert "&lt;script&gt;" in body
    assert "javascript:" not in body.split("href=")[-1] and 'href="javascript' not in body
    assert '<a href="https://example.com/a" rel="noopener noreferrer nofollow">ok</a>' in body


def test_versions_tab_lists_versions_and_diffs_any_two(ui: UiServer) -> None:
    fqn = _table(ui, description="first words")
    ui.catalog.patch(
        "table", Key(fqn=fqn), {"description": "second words"}, STEWARD, json_patch=False
    )
    ui.catalog.patch("table", Key(fqn=fqn), {"tags": ["Tier.Tier2"]}, STEWARD, json_patch=False)
    with ui.login("viewer") as c:
        listing = c.get(f"/ui/assets/table/{fqn}", params={"tab": "versions"}).text
        assert "Versions (3)" in listing
        history = listing.split("<h2>History</h2>")[1]
        assert history.count("<tr><td>") == 3 and "test-steward" in history
        d = c.get(f"/ui/assets/table/{fqn}", params={"tab": "versions", "from": 1, "to": 3}).text
        diff = d.split('id="diff-h"')[1].split("</section>")[0]
        assert "Version 1 → 3" in diff
        assert "<del><pre>first words</pre></del>" in diff
        assert "<ins><pre>second words</pre></ins>" in diff
        assert "Tier.Tier2" in diff
        bad = c.get(f"/ui/assets/table/{fqn}", params={"tab": "versions", "from": "x"})
        assert bad.status_code == 422 and "version numbers" in bad.text
        missing = c.get(f"/ui/assets/table/{fqn}", params={"tab": "versions", "from": 9})
        assert missing.status_code == 404


def test_unknown_assets_kinds_and_tabs_are_404_pages(ui: UiServer) -> None:
    with ui.login("viewer") as c:
        for path in (
            "/ui/assets/table/no.such.table",
            f"/ui/assets/nosuchkind/{TABLE}",
            f"/ui/assets/table/{TABLE}?tab=lineage",
            "/ui/browse/nosuchkind",
        ):
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith("text/html")
            assert "Not found" in r.text


def test_glossary_domains_people_and_browse_pages(ui: UiServer) -> None:
    cat = ui.catalog
    with ui.login("viewer") as c:
        glossary = c.get("/ui/glossary").text
        for term in cat.list_page("glossary_term", limit=5).items:
            assert f'href="{asset_url("glossary_term", term.fqn)}"' in glossary
        domains = c.get("/ui/domains").text
        for d in cat.list_page("domain", limit=5).items:
            assert f">{d.doc.get('display_name') or d.name}</a>" in domains
        people = c.get("/ui/people").text
        team = cat.list_page("team", limit=1).items[0]
        user = cat.list_page("user", limit=1).items[0]
        assert f">{team.doc.get('display_name') or team.name}</a>" in people
        assert f">{user.doc.get('display_name') or user.name}</a>" in people
        tables = c.get("/ui/browse/table").text
        page = cat.list_page("table", limit=50)
        assert f"<small>{page.total}</small>" in tables
        assert page.items[0].fqn in tables


def test_a_user_and_a_team_page_list_what_they_own(ui: UiServer) -> None:
    asset = ui.catalog.get("table", Key(fqn=TABLE))
    with ui.login("viewer") as c:
        for owner in asset.doc["owners"]:
            r = c.get(f"/ui/assets/{owner['kind']}/{owner['fqn']}", params={"tab": "assets"})
            assert r.status_code == 200
            owns = r.text.split("<h2>Owns")[1].split("</ul>")[0]
            assert f">{TABLE}</a>" in owns
        tag = asset.doc["tags"][0]
        tagged = c.get(f"/ui/assets/tag/{tag}", params={"tab": "assets"}).text
        assert f">{TABLE}</a>" in tagged.split("Tagged with this")[1]


def _sqlite_source(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, label TEXT)")
        conn.commit()
    return path


def test_ingestion_pipelines_page_shows_run_history_and_health(
    ui: UiServer, tmp_path: Path
) -> None:
    name = f"shop_{uuid.uuid4().hex[:6]}"
    recipe = {
        "pipeline": name,
        "source": {
            "type": "sqlite",
            "config": {"path": str(_sqlite_source(tmp_path / "s.db")), "service": name},
        },
        "schedule": "0 3 * * *",
    }
    settings = Settings(
        data_dir=tmp_path, database_url=ui.store.engine.url.render_as_string(hide_password=False)
    )
    assert run_recipe(parse_recipe(recipe), settings).status == "success"
    with ui.login("viewer") as c:
        listing = c.get("/ui/pipelines").text
        row = listing.split(f">{name}</a>")[1].split("</tr>")[0]
        assert "<code>sqlite</code>" in row and "<code>0 3 * * *</code>" in row
        assert "success" in row
        runs = c.get(f"/ui/assets/ingestion_pipeline/{name}", params={"tab": "runs"}).text
        assert "Latest runs" in runs and "status-success" in runs
        assert str(tmp_path) not in runs  # the recipe's config is not shown


class _Checks:
    """A tab as a capability would register it."""

    name = "checks"
    label = "Checks"
    order = 50

    def applies(self, asset: Asset) -> bool:
        return asset.kind == "table"

    def render(self, catalog: Catalog, asset: Asset, params: dict[str, str]) -> Markup:
        return Markup("<p id='checks'>{} checks</p>").format(asset.name)


def test_a_tab_appears_only_when_a_capability_registers_it(ui: UiServer) -> None:
    with ui.login("viewer") as c:
        url = f"/ui/assets/table/{TABLE}"
        assert "tab=checks" not in c.get(url).text
        extensions.register_tab(_Checks())
        try:
            assert ">Checks</a>" in c.get(url).text
            tab = c.get(url, params={"tab": "checks"}).text
            assert "<p id='checks'>fct_orders checks</p>" in tab
            assert ">Checks</a>" not in c.get("/ui/assets/user/" + ui.editor_user).text
        finally:
            extensions.unregister_tab("checks")
        assert c.get(url, params={"tab": "checks"}).status_code == 404


def test_static_files_are_cached_by_content_and_compressed(ui: UiServer) -> None:
    with ui.login("viewer") as c:
        html = c.get("/ui/").text
        css = re.search(r'href="(/ui/static/app\.css\?v=[0-9a-f]{12})"', html)
        assert css is not None
        r = c.get(css.group(1), headers={"accept-encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-type"].startswith("text/css")
        raw = httpx.get(ui.url + css.group(1), headers={"accept-encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.content == r.content and b"--accent" in raw.content  # decoded by httpx
        again = c.get(css.group(1), headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304
        stale = c.get("/ui/static/app.css?v=old")
        assert stale.headers["cache-control"] == "public, max-age=300"
        assert c.get("/ui/static/nothing.js").status_code == 404


def test_with_anonymous_reading_pages_open_without_login_but_editing_asks_for_one(
    tmp_path: Path,
) -> None:
    with ui_server(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, anonymous_read=True) as site:
        with site.client() as c:
            page = c.get(f"/ui/assets/table/{TABLE}")
            assert page.status_code == 200 and ">Edit</a>" not in page.text
            assert 'href="/ui/login?next=' in page.text
            assert c.get("/ui/glossary").status_code == 200
            r = c.get(f"/ui/edit/table/{TABLE}")
            assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
            r = c.post(f"/ui/edit/table/{TABLE}", data={"description": "anonymous"})
            assert r.status_code == 403  # no session, so no CSRF token: refused
        assert site.catalog.get("table", Key(fqn=TABLE)).version == 1
