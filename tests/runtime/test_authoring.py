"""Authoring aids in headless Chromium: guide previews for admins only, and the element picker's selectors."""

from __future__ import annotations

import pytest

from .conftest import OpenPage
from .helpers import FORM_PAGE, flush, screenshot
from .site import TestSite

pytestmark = pytest.mark.asyncio(loop_scope="session")

MANAGERS_ONLY = """
guides:
  - id: approve-walk
    kind: walkthrough
    title: Approve an order
    audience: {roles: [manager]}
    pages: [/po/approve]
    steps:
      - body: Check the vendor first.
        target: "#vendor"
      - body: Then the amount.
        target: "#amount"
"""


@pytest.mark.parametrize(
    ("admin", "shown"),
    [pytest.param(True, 1, id="admin"), pytest.param(False, 0, id="clerk")],
)
async def test_preview_admins_only(site: TestSite, open_page: OpenPage, app: str, admin: bool, shown: int) -> None:
    site.add_app(app, MANAGERS_ONLY, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new?guidegate-preview=approve-walk"), roles="clerk", admin=admin)
    await page.wait_for_timeout(400)

    assert await page.locator(".gg-pop[data-guide='approve-walk']").count() == shown
    if admin:
        await page.locator(".gg-pop").get_by_role("button", name="Next").click()
        await page.locator(".gg-pop[data-step='2']").wait_for()
    await flush(page)
    await page.wait_for_timeout(200)
    assert site.events_of(app) == []
    assert await site.state.load(app, "c-any") == {}


PICKER_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{snippet}</head>
<body>
<form name="po">
  <p><label>Vendor <input id="vendor" name="vendor"></label></p>
  <p><input name="amount" placeholder="Amount"></p>
  <p><input id="ember1234" data-testid="due-date"></p>
  <p><button type="submit">Save order</button> <button type="button">Cancel</button></p>
  <p><span>a</span><span id="plain-target">b</span></p>
</form>
</body></html>
"""


@pytest.mark.parametrize(
    ("element", "selector"),
    [
        pytest.param("#vendor", "#vendor", id="id"),
        pytest.param("input[name=amount]", 'input[name="amount"]', id="name"),
        pytest.param("[data-testid=due-date]", '[data-testid="due-date"]', id="data-attribute-over-generated-id"),
        pytest.param("button[type=submit]", "button", id="button-text"),
    ],
)
async def test_picker_robust_selector(site: TestSite, open_page: OpenPage, app: str, element: str, selector: str) -> None:
    site.add_app(app, "guides: []\n", {"/po/new": PICKER_PAGE})
    page = await open_page(site.page_url(app, "/po/new?guidegate-picker=1"), admin=True)
    await page.locator(".gg-banner").wait_for()

    await page.hover(element)
    tag = page.locator(".gg-pick-tag")
    await page.click(element)
    panel = page.locator(".gg-menu")
    await panel.wait_for()
    if element == "#vendor":
        await screenshot(page, "picker")

    assert await panel.get_attribute("data-selector") == selector
    assert (await tag.inner_text()).startswith(selector)
    code = await panel.locator("textarea").input_value()
    if selector == "button":
        assert code == "target:\n  selector: ['button']\n  text: 'Save order'"
    else:
        assert code.startswith(f"target:\n  selector: ['{selector}'")
    await page.keyboard.press("Escape")
    await panel.wait_for(state="detached")
    assert await page.locator(".gg-pick").count() == 0


async def test_picker_needs_admin(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, "guides: []\n", {"/po/new": PICKER_PAGE})
    page = await open_page(site.page_url(app, "/po/new?guidegate-picker=1"))
    await page.wait_for_timeout(300)

    assert await page.locator(".gg-pick, .gg-banner").count() == 0
    await page.locator(".gg-launcher").click()
    await page.locator(".gg-menu").wait_for()
    assert await page.locator(".gg-menu").get_by_role("button", name="Pick an element").count() == 0
