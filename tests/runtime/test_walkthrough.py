"""Walkthroughs and scheduling in headless Chromium: keyboard, resuming after POST and reload, late and missing targets, queueing, frequency."""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from playwright.async_api import Page

from .conftest import OpenPage
from .helpers import FORM_PAGE, bounds, flush, screenshot
from .site import TestSite

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def focused_text(page: Page) -> str:
    """The text of the focused element inside the runtime's shadow root, or the page's focused element's id."""
    return str(await page.evaluate(
        "() => { const a = document.activeElement; return a.shadowRoot ? a.shadowRoot.activeElement.textContent : '#' + a.id; }"
    ))


KEYBOARD = """
guides:
  - id: po-walk
    kind: walkthrough
    title: Raise a purchase order
    pages: [/po/new]
    steps:
      - body: Type the vendor name.
        target: "#vendor"
      - body: Then the amount.
        target: "#amount"
      - body: Finally, save.
        target: "#save"
"""

AUTOFOCUS_PAGE = FORM_PAGE.replace('<input id="amount" name="amount">', '<input id="amount" name="amount" autofocus>')


async def test_keyboard_only_completion(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, KEYBOARD, {"/po/new": AUTOFOCUS_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))
    card = page.locator(".gg-pop")
    await card.wait_for()

    assert await focused_text(page) == "Next"
    await page.keyboard.press("ArrowRight")
    await page.locator(".gg-pop[data-step='2']").wait_for()
    assert await card.locator(".gg-progress").inner_text() == "Step 2 of 3"
    await page.keyboard.press("ArrowLeft")
    await page.locator(".gg-pop[data-step='1']").wait_for()
    await page.keyboard.press("Enter")
    await page.locator(".gg-pop[data-step='2']").wait_for()
    assert await focused_text(page) == "Next"
    await page.keyboard.press("Shift+Tab")
    assert await focused_text(page) == "Back"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")
    await page.locator(".gg-pop[data-step='3']").wait_for()
    assert await focused_text(page) == "Done"
    await page.keyboard.press("Enter")
    await card.wait_for(state="detached")

    assert await focused_text(page) == "#amount"
    await flush(page)
    completed = await site.wait_events(app, "guide_completed")
    steps = [event.step for event in await site.wait_events(app, "guide_step_completed", 4)]
    assert [event.name for event in completed] == ["po-walk"]
    assert steps == ["1", "1", "2", "3"]
    assert (await site.state.load(app, completed[0].visitor))["po-walk"].status == "completed"


async def test_escape_dismisses_for_good(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, KEYBOARD, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))
    await page.locator(".gg-pop").wait_for()

    await page.keyboard.press("Escape")
    await page.locator(".gg-pop").wait_for(state="detached")
    await flush(page)
    dismissed = await site.wait_events(app, "guide_dismissed")
    assert [(event.name, event.step) for event in dismissed] == [("po-walk", "1")]

    await page.reload()
    await page.evaluate("() => window.Guidegate.ready")
    await page.wait_for_timeout(300)
    assert await page.locator(".gg-pop").count() == 0


MULTI_PAGE = """
guides:
  - id: po-walk
    kind: walkthrough
    title: Raise a purchase order
    pages: [/po/new]
    steps:
      - body: Type the vendor name.
        target: "#vendor"
      - body: Save the order.
        target: "#save"
        advance: {page: "/po/{id:int}"}
      - body: The order now waits for approval.
        target: "#status"
"""

ORDER_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Order 7</title>{snippet}</head>
<body><h1>Order 7</h1><p>Status: <span id="status">waiting for approval</span></p></body></html>
"""


async def test_resumes_after_post_redirect(site: TestSite, open_page: OpenPage, app: str) -> None:
    async def save(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            await request.post()
            raise web.HTTPSeeOther(f"/{app}/po/7")
        return web.Response(text=FORM_PAGE.replace("{snippet}", site.snippet(app)), content_type="text/html")

    site.add_app(app, MULTI_PAGE, {"/po/new": save, "/po/7": ORDER_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))
    await page.locator(".gg-pop[data-step='1']").wait_for()
    await page.fill("#vendor", "ACME")
    await page.locator(".gg-pop").get_by_role("button", name="Next").click()
    second = page.locator(".gg-pop[data-step='2']")
    await second.wait_for()
    assert await second.locator(".gg-hint").inner_text() == "This guide continues on the next page."
    assert await second.get_by_role("button", name="Next").count() == 0

    async with page.expect_navigation(url=f"**/{app}/po/7"):
        await page.click("#save")
    await page.evaluate("() => window.Guidegate.ready")
    third = page.locator(".gg-pop[data-step='3']")
    await third.wait_for()
    await screenshot(page, "walkthrough-resumed")
    assert await third.locator(".gg-progress").inner_text() == "Step 3 of 3"
    assert await third.locator(".gg-body").inner_text() == "The order now waits for approval."

    await page.reload()
    await page.evaluate("() => window.Guidegate.ready")
    await page.locator(".gg-pop[data-step='3']").wait_for()
    await page.locator(".gg-pop").get_by_role("button", name="Done").click()
    await flush(page)

    completed = await site.wait_events(app, "guide_completed")
    assert [event.name for event in completed] == ["po-walk"]
    assert [event.step for event in site.events_of(app, "guide_step_completed")] == ["1", "2", "3"]
    assert len(site.events_of(app, "guide_shown")) == 1
    assert [event.detail["page"] for event in site.events_of(app, "guide_step_viewed")] == [  # type: ignore[index]
        f"/{app}/po/new", f"/{app}/po/new", f"/{app}/po/7", f"/{app}/po/7"
    ]


LATE = """
guides:
  - id: late-walk
    kind: walkthrough
    title: Late target
    steps:
      - body: This field appears after two seconds.
        target: "#late"
"""

LATE_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">{snippet}</head><body><div id="slot"></div>
<script>setTimeout(() => { document.getElementById('slot').innerHTML = '<input id="late">'; }, 2000);</script>
</body></html>
"""


async def test_late_target_found(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, LATE, {"/late": LATE_PAGE})
    started = time.monotonic()
    page = await open_page(site.page_url(app, "/late"))
    await page.locator(".gg-pop").wait_for()
    waited = time.monotonic() - started

    target = await bounds(page.locator("#late"))
    box = await bounds(page.locator(".gg-pop"))
    assert waited >= 2.0
    assert box["y"] == pytest.approx(target["y"] + target["height"] + 12, abs=1)
    await flush(page)
    assert site.events_of(app, "target_missing") == []


MISSING = """
guides:
  - id: skip-walk
    kind: walkthrough
    title: Missing first target
    on_missing: skip
    steps:
      - body: Nothing has this id.
        target: ["#nope", "input[name=nope]"]
      - body: The vendor field exists.
        target: "#vendor"
  - id: end-walk
    kind: walkthrough
    title: Missing target ends
    priority: -1
    steps:
      - body: Nothing has this id either.
        target: "#gone"
        on_missing: end
      - body: Never shown.
        target: "#vendor"
"""


async def test_missing_target_reported(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, MISSING, {"/po/new": FORM_PAGE}, target_wait=0.5)
    page = await open_page(site.page_url(app, "/po/new"))

    second = page.locator(".gg-pop[data-guide='skip-walk'][data-step='2']")
    await second.wait_for()
    assert await second.locator(".gg-progress").inner_text() == "Step 2 of 2"
    await second.get_by_role("button", name="Done").click()
    await flush(page)

    missing = await site.wait_events(app, "target_missing", 2)
    assert [(event.name, event.step, event.detail["selector"]) for event in missing] == [  # type: ignore[index]
        ("skip-walk", "1", "#nope, input[name=nope]"),
        ("end-walk", "1", "#gone"),
    ]
    await page.wait_for_timeout(200)
    assert await page.locator(".gg-pop[data-guide='end-walk']").count() == 0
    states = await site.state.load(app, missing[0].visitor)
    assert (states["skip-walk"].status, states["end-walk"].status) == ("completed", "ended")


CLICK_AND_CHANGE = """
guides:
  - id: act-walk
    kind: walkthrough
    title: Act on the page
    steps:
      - body: Pick a vendor.
        target: "#vendor"
        advance: change
      - body: Press save.
        target: "#save"
        advance: click
      - body: Done.
"""


async def test_click_and_change_advance(site: TestSite, open_page: OpenPage, app: str) -> None:
    page_html = FORM_PAGE.replace('type="submit"', 'type="button"')
    site.add_app(app, CLICK_AND_CHANGE, {"/po/new": page_html})
    page = await open_page(site.page_url(app, "/po/new"))

    first = page.locator(".gg-pop[data-step='1']")
    await first.wait_for()
    assert await first.locator(".gg-hint").inner_text() == "Change the highlighted field to continue."
    assert await focused_text(page) == "#vendor"
    await page.keyboard.type("ACME")
    await page.keyboard.press("Tab")
    second = page.locator(".gg-pop[data-step='2']")
    await second.wait_for()
    assert await focused_text(page) == "#save"
    await page.keyboard.press("Enter")
    third = page.locator(".gg-pop.gg-center[data-step='3']")
    await third.wait_for()
    assert await third.locator(".gg-arrow").count() == 0


QUEUE = """
guides:
  - id: later-news
    kind: announcement
    title: News
    body: Shown after the walkthrough.
  - id: first-walk
    kind: walkthrough
    title: Shown first
    priority: 10
    steps:
      - body: The vendor field.
        target: "#vendor"
"""


async def test_one_automatic_guide_at_a_time(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, QUEUE, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    walk = page.locator(".gg-pop[data-guide='first-walk']")
    await walk.wait_for()
    await page.wait_for_timeout(300)
    assert await page.locator(".gg-modal").count() == 0
    await walk.get_by_role("button", name="Done").click()
    await page.locator(".gg-modal[data-guide='later-news']").wait_for()


@pytest.mark.parametrize(
    ("frequency", "shown_per_load"),
    [
        pytest.param("once", [1, 0, 0], id="once"),
        pytest.param("{max_times: 2}", [1, 1, 0], id="max-times"),
        pytest.param("every_visit", [1, 1, 1], id="every-visit"),
        pytest.param("until_completed", [1, 1, 1], id="until-completed"),
    ],
)
async def test_frequency_over_loads(site: TestSite, open_page: OpenPage, app: str, frequency: str, shown_per_load: list[int]) -> None:
    rules = f"""
guides:
  - id: news
    kind: announcement
    title: News
    body: Something changed.
    frequency: {frequency}
"""
    site.add_app(app, rules, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))
    seen = []
    for load in range(len(shown_per_load)):
        if load:
            await page.reload()
            await page.evaluate("() => window.Guidegate.ready")
        await page.wait_for_timeout(250)
        seen.append(await page.locator(".gg-modal").count())

    assert seen == shown_per_load
