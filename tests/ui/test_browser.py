"""The web UI in a real browser: Debian's Chromium driven by Playwright. Screenshots go to
test-artifacts/ui/ (git-ignored). Under CI these tests run; elsewhere they skip, saying why,
when Chromium or Playwright is missing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import TABLE, UiServer, ui_server

CHROMIUM = os.environ.get("LODESTAR_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    data_dir = tmp_path_factory.mktemp("ui-browser")
    with ui_server(f"sqlite:///{data_dir / 'catalog.db'}", data_dir) as server:
        yield server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page: Any, site: UiServer, role: str) -> None:
    page.goto(f"{site.url}/ui/login")
    page.get_by_label("API token").fill(site.tokens[role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site.url}/ui/")


def test_find_an_asset_edit_its_description_and_see_the_diff(browser: Any, site: UiServer) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    _login(page, site, "editor")
    # Find it from the home page's search box, with the keyboard.
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("warehouse.analytics.marts.fct_ord")
    page.keyboard.press("Enter")
    page.get_by_role("link", name=TABLE, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("fct_orders")
    _shot(page, "asset-overview")
    page.get_by_role("link", name=re.compile(r"^Schema")).click()
    expect(page.locator("table.grid tbody tr").first).to_contain_text("order_id")

    page.get_by_role("link", name="Edit").click()
    box = page.get_by_label(re.compile("^Description"))
    before = box.input_value()
    box.fill("## Orders\n\nOne row per **order**, edited in the browser.")
    # The preview follows the typing (progressive enhancement).
    expect(page.locator("#preview strong")).to_have_text("order")
    _shot(page, "edit-description")
    page.get_by_role("button", name="Save").click()

    notice = page.get_by_role("status")
    expect(notice).to_contain_text("Saved as version")
    expect(page.locator(".md h2")).to_have_text("Orders")
    version = int(re.search(r"version (\d+)", notice.inner_text()).group(1))  # type: ignore[union-attr]
    notice.get_by_role("link", name="See what changed").click()
    diff = page.locator("section.diff")
    expect(diff.get_by_role("heading")).to_have_text(f"Version {version - 1} → {version}")
    expect(diff.locator("ins")).to_contain_text("edited in the browser")
    expect(diff.locator("del")).to_contain_text(before.splitlines()[0])
    _shot(page, "version-diff")
    page.close()


def test_a_viewer_sees_no_edit_and_cannot_open_the_editor(browser: Any, site: UiServer) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    _login(page, site, "viewer")
    page.goto(f"{site.url}/ui/assets/table/{TABLE}")
    expect(page.get_by_role("heading", level=1)).to_have_text("fct_orders")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    response = page.goto(f"{site.url}/ui/edit/table/{TABLE}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("may read but not change metadata")
    _shot(page, "viewer-refused")
    page.close()


def test_pages_fit_a_phone_screen(browser: Any, site: UiServer) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    _login(page, site, "viewer")
    for path in (f"/ui/assets/table/{TABLE}", "/ui/glossary", "/ui/people"):
        page.goto(site.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    page.goto(f"{site.url}/ui/assets/table/{TABLE}")
    _shot(page, "phone-asset")
    page.close()
