"""Each guide kind appears where its rule puts it, in headless Chromium: walkthrough, tip, hotspot, announcement, banner, help menu, checklist."""

from __future__ import annotations

import pytest

from .conftest import OpenPage
from .helpers import FORM_PAGE, bounds, flush, screenshot
from .site import TestSite

pytestmark = pytest.mark.asyncio(loop_scope="session")

WALKTHROUGH = """
guides:
  - id: po-walk
    kind: walkthrough
    title: Raise a purchase order
    pages: [/po/new]
    steps:
      - title: Vendor
        body: Type the **vendor** name, as on the quote.
        target: "#vendor"
      - body: Then the amount.
        target: "#amount"
"""


async def test_walkthrough_at_target(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, WALKTHROUGH, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    card = page.locator(".gg-pop")
    await card.wait_for()
    target = await bounds(page.locator("#vendor"))
    box = await bounds(card)
    ring = await bounds(page.locator(".gg-ring"))
    title_id = await card.get_attribute("aria-labelledby")
    await screenshot(page, "walkthrough")

    assert await card.get_attribute("role") == "dialog"
    assert await page.locator(f"#{title_id}").inner_text() == "Vendor"
    assert await card.locator(".gg-body").inner_text() == "Type the vendor name, as on the quote."
    assert await card.locator(".gg-body strong").inner_text() == "vendor"
    assert await card.locator(".gg-progress").inner_text() == "Step 1 of 2"
    assert await card.locator(".gg-progress").get_attribute("aria-live") == "polite"
    assert await card.get_attribute("data-side") == "bottom"
    assert box["y"] == pytest.approx(target["y"] + target["height"] + 12, abs=1)
    assert ring["x"] == pytest.approx(target["x"] - 4, abs=1)
    assert ring["y"] == pytest.approx(target["y"] - 4, abs=1)
    assert ring["width"] == pytest.approx(target["width"] + 8, abs=1)
    assert ring["height"] == pytest.approx(target["height"] + 8, abs=1)


TIP = """
guides:
  - id: amount-tip
    kind: tip
    title: Amount
    body: Net amount, without VAT.
    target: "#amount"
"""


async def test_tip_on_hover_and_focus(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, TIP, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    marker = page.locator(".gg-tip")
    await marker.wait_for()
    target = await bounds(page.locator("#amount"))
    spot = await bounds(marker)
    assert spot["x"] == pytest.approx(target["x"] + target["width"] + 4, abs=1)
    assert spot["y"] + spot["height"] / 2 == pytest.approx(target["y"] + target["height"] / 2, abs=1)
    assert await marker.get_attribute("aria-label") == "Tip: Amount"
    assert await page.locator(".gg-tooltip").count() == 0

    await marker.hover()
    tooltip = page.locator(".gg-tooltip")
    await tooltip.wait_for()
    assert await tooltip.get_attribute("role") == "tooltip"
    assert await tooltip.inner_text() == "Net amount, without VAT."
    await screenshot(page, "tip")

    await page.mouse.move(0, 0)
    await tooltip.wait_for(state="detached")
    await page.locator("#amount").focus()
    await tooltip.wait_for()
    assert await tooltip.inner_text() == "Net amount, without VAT."
    await page.keyboard.press("Escape")
    await tooltip.wait_for(state="detached")

    await flush(page)
    shown = await site.wait_events(app, "guide_shown")
    assert [(event.name, event.detail) for event in shown] == [
        ("amount-tip", {"page": f"/{app}/po/new", "locale": "en", "revision": shown[0].detail["revision"], "trigger": "automatic"})  # type: ignore[index]
    ]


HOTSPOT = """
guides:
  - id: save-hotspot
    kind: hotspot
    title: New save button
    body: Saving now also sends the order for approval.
    target: "#save"
"""


async def test_hotspot_opens_on_click(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, HOTSPOT, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    spot = page.locator(".gg-hotspot")
    await spot.wait_for()
    target = await bounds(page.locator("#save"))
    place = await bounds(spot)
    assert place["x"] + place["width"] / 2 == pytest.approx(target["x"] + target["width"], abs=1)
    assert place["y"] + place["height"] / 2 == pytest.approx(target["y"], abs=1)
    assert await spot.get_attribute("aria-expanded") == "false"

    await spot.click()
    card = page.locator(".gg-pop[data-guide='save-hotspot']")
    await card.wait_for()
    assert await spot.get_attribute("aria-expanded") == "true"
    assert await card.locator(".gg-title").inner_text() == "New save button"
    assert await card.locator(".gg-body").inner_text() == "Saving now also sends the order for approval."
    await screenshot(page, "hotspot")

    await card.get_by_role("button", name="Got it").click()
    await spot.wait_for(state="detached")
    await flush(page)
    completed = await site.wait_events(app, "guide_completed")
    assert [event.name for event in completed] == ["save-hotspot"]
    states = await site.state.load(app, completed[0].visitor)
    assert (states["save-hotspot"].status, states["save-hotspot"].shown) == ("completed", 1)


ANNOUNCEMENT = """
guides:
  - id: new-approvals
    kind: announcement
    title: Approvals have moved
    body: |
      From Monday, approvals happen in the **Inbox**.

      - open the inbox
      - pick an order
"""


async def test_announcement_modal(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, ANNOUNCEMENT, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    dialog = page.locator(".gg-modal")
    await dialog.wait_for()
    await screenshot(page, "announcement")
    assert await dialog.get_attribute("aria-modal") == "true"
    assert await dialog.locator(".gg-title").inner_text() == "Approvals have moved"
    assert await dialog.locator("li").all_inner_texts() == ["open the inbox", "pick an order"]
    assert await page.evaluate("() => document.activeElement.shadowRoot.activeElement.textContent") == "Got it"

    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.shadowRoot.activeElement.getAttribute('aria-label')") == "Close"
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.shadowRoot.activeElement.textContent") == "Got it"
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="detached")

    await flush(page)
    dismissed = await site.wait_events(app, "guide_dismissed")
    assert [event.name for event in dismissed] == ["new-approvals"]
    states = await site.state.load(app, dismissed[0].visitor)
    assert (states["new-approvals"].dismissed, states["new-approvals"].shown) == (True, 1)


BANNERS = """
guides:
  - id: maintenance
    kind: banner
    title: Maintenance
    body: The app is read-only on Saturday from 8:00 to 12:00.
  - id: survey
    kind: banner
    position: bottom
    title: Survey
    body: Tell us how ordering works for you.
"""


async def test_banners_top_and_bottom(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, BANNERS, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"), height=600)

    top = page.locator(".gg-banner[data-guide='maintenance']")
    bottom = page.locator(".gg-banner[data-guide='survey']")
    await top.wait_for()
    await bottom.wait_for()
    await screenshot(page, "banner")
    top_box = await bounds(top)
    bottom_box = await bounds(bottom)
    assert (top_box["x"], top_box["y"], top_box["width"]) == (0, 0, 1000)
    assert bottom_box["y"] + bottom_box["height"] == pytest.approx(600, abs=1)
    assert " ".join((await top.inner_text()).split()) == "Maintenance The app is read-only on Saturday from 8:00 to 12:00. ×"
    assert await page.evaluate("() => getComputedStyle(document.documentElement).marginTop") == f"{top_box['height']:g}px"
    heading = await bounds(page.locator("h1"))
    assert heading["y"] >= top_box["height"]
    assert await top.get_attribute("role") == "region"

    await top.get_by_role("button", name="Close").click()
    await top.wait_for(state="detached")
    assert await page.evaluate("() => getComputedStyle(document.documentElement).marginTop") == "0px"
    await flush(page)
    assert [event.name for event in await site.wait_events(app, "guide_dismissed")] == ["maintenance"]


HELP = """
guides:
  - id: po-walk
    kind: walkthrough
    title: Raise a purchase order
    trigger: help_menu
    pages: [/po/new]
    steps:
      - body: Type the vendor name.
        target: "#vendor"
  - id: amount-tip
    kind: tip
    title: Amounts and VAT
    body: Amounts are net, without VAT.
    trigger: help_menu
    target: "#amount"
  - id: approve-walk
    kind: walkthrough
    title: Approve an order
    trigger: help_menu
    audience: {roles: [manager]}
    steps:
      - body: Open the inbox.
"""


async def test_help_menu_lists_searches_requests(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, HELP, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"), roles="clerk")

    launcher = page.locator(".gg-launcher")
    await launcher.click()
    menu = page.locator(".gg-menu")
    await menu.wait_for()
    entries = menu.locator(".gg-entry")
    assert await entries.all_inner_texts() == ["Raise a purchase order", "Amounts and VAT"]
    assert await launcher.get_attribute("aria-expanded") == "true"
    await screenshot(page, "help-menu")

    await page.keyboard.type("vat")
    assert await entries.all_inner_texts() == ["Amounts and VAT"]
    await page.keyboard.press("Control+A")
    await page.keyboard.type("net amounts")
    assert await entries.all_inner_texts() == ["Amounts and VAT"]
    await page.keyboard.press("Control+A")
    await page.keyboard.type("xyz")
    assert await entries.count() == 0
    assert await menu.locator(".gg-list").inner_text() == "No guides match."

    await menu.get_by_role("button", name="Request help").click()
    assert await menu.locator(".gg-status").inner_text() == "Your request for help was recorded."
    await page.keyboard.press("Escape")
    await menu.wait_for(state="detached")

    await launcher.click()
    await menu.locator(".gg-entry", has_text="Raise a purchase order").click()
    await page.locator(".gg-pop[data-guide='po-walk']").wait_for()
    await page.wait_for_timeout(1300)
    await flush(page)

    assert len(await site.wait_events(app, "help_opened", 2)) == 2
    assert [event.detail for event in await site.wait_events(app, "search")] == [{"page": f"/{app}/po/new", "query": "xyz"}]
    assert [event.roles for event in await site.wait_events(app, "help_requested")] == [("clerk",)]
    assert [event.detail["trigger"] for event in await site.wait_events(app, "guide_shown")] == ["help_menu"]  # type: ignore[index]


CHECKLIST = """
guides:
  - id: first-week
    kind: checklist
    title: Your first week
    items:
      - {title: Raise a purchase order, workflow: raise-po, link: /po/new}
      - {title: Approve an order, workflow: approve-po}
workflows:
  - id: raise-po
    title: Raise a purchase order
    steps:
      - {name: submit, path: /po/new, methods: [POST]}
  - id: approve-po
    title: Approve an order
    steps:
      - {name: approve, path: /po/approve, methods: [POST]}
"""


async def test_checklist_done_flags(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, CHECKLIST, {"/po/new": FORM_PAGE}, completed={"raise-po"})
    page = await open_page(site.page_url(app, "/po/new"))

    section = page.locator(".gg-section[data-guide='first-week']")
    await section.wait_for()
    await screenshot(page, "checklist")
    assert await section.locator("h3").inner_text() == "Your first week"
    assert await section.locator(".gg-muted").inner_text() == "1 of 2 done"
    items = section.locator("li")
    assert await items.nth(0).get_attribute("class") == "gg-done"
    assert await items.nth(0).locator(".gg-sr").inner_text() == "Done:"
    assert await items.nth(0).locator("a").get_attribute("href") == "/po/new"
    assert await items.nth(1).get_attribute("class") == ""
    assert await items.nth(1).locator(".gg-sr").inner_text() == "To do:"
    assert await page.locator(".gg-launcher .gg-badge").inner_text() == "1"


@pytest.mark.parametrize(
    ("reduced", "animation"),
    [pytest.param(True, "none", id="reduced-motion"), pytest.param(False, "gg-pulse", id="motion")],
)
async def test_hotspot_motion_preference(site: TestSite, open_page: OpenPage, app: str, reduced: bool, animation: str) -> None:
    site.add_app(app, HOTSPOT, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"), reduced_motion=reduced)
    spot = page.locator(".gg-hotspot")
    await spot.wait_for()

    assert await spot.evaluate("el => getComputedStyle(el, '::after').animationName") == animation
