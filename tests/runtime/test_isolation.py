"""The runtime against hostile pages in headless Chromium: aggressive CSS, RTL text, markup in rule text, double injection, frames."""

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
    steps:
      - title: Vendor
        body: Type the vendor name.
        target: "#vendor"
      - body: Then the amount.
        target: "#amount"
"""

HOSTILE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<style>
* { all: unset !important; }
div { display: none !important; }
html, body { display: block !important; font: 30px/1 serif !important; color: red !important; }
p, label, input, h1, form { display: block !important; }
input { border: 1px solid black !important; width: 200px !important; height: 24px !important; }
.cover { display: block !important; position: fixed !important; inset: 0 !important; z-index: 2147483647 !important;
         background: rgba(255, 0, 0, 0.15) !important; }
guidegate-ui, guidegate-ui * { display: none !important; opacity: 0 !important; }
</style>
{snippet}</head>
<body>
<h1>Hostile page</h1>
<form><label for="vendor">Vendor</label><input id="vendor" name="vendor">
<label for="amount">Amount</label><input id="amount" name="amount"></form>
<section class="cover"></section>
</body></html>
"""


async def test_hostile_css_keeps_ui(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, WALKTHROUGH, {"/po/new": HOSTILE_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    card = page.locator(".gg-pop")
    await card.wait_for(state="visible")
    await screenshot(page, "hostile-css")
    style = await card.evaluate(
        "el => { const s = getComputedStyle(el); return [s.display, s.backgroundColor, s.fontSize, s.position, s.color]; }"
    )
    host = await page.evaluate(
        "() => { const s = getComputedStyle(document.querySelector('guidegate-ui')); return [s.display, s.zIndex, s.opacity, s.position]; }"
    )
    assert style == ["block", "rgb(255, 255, 255)", "14px", "fixed", "rgb(26, 29, 33)"]
    assert host == ["block", "2147483647", "1", "fixed"]
    assert await page.evaluate("() => document.querySelector('guidegate-ui').matches(':popover-open')") is True

    await card.get_by_role("button", name="Next").click()
    await page.locator(".gg-pop[data-step='2']").wait_for()
    launcher = page.locator(".gg-launcher")
    await launcher.click()
    await page.locator(".gg-menu").wait_for(state="visible")


RTL = """
locale: en
guides:
  - id: po-walk
    kind: walkthrough
    title: {en: Raise a purchase order, ar: إنشاء أمر شراء}
    steps:
      - title: {en: Vendor, ar: المورد}
        body: {en: Type the vendor name., ar: اكتب اسم المورد.}
        target: "#vendor"
      - body: {en: Then the amount., ar: ثم المبلغ.}
        target: "#amount"
"""


async def test_rtl_locale_right_to_left(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, RTL, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"), locale="ar")

    card = page.locator(".gg-pop")
    await card.wait_for()
    await screenshot(page, "rtl")
    assert (await card.get_attribute("dir"), await card.get_attribute("lang")) == ("rtl", "ar")
    assert await card.locator(".gg-title").inner_text() == "المورد"
    assert await card.locator(".gg-body").inner_text() == "اكتب اسم المورد."
    assert await card.locator(".gg-progress").inner_text() == "الخطوة 1 من 2"
    assert await card.get_by_role("button", name="التالي").count() == 1
    title = await bounds(card.locator(".gg-title"))
    close = await bounds(card.get_by_role("button", name="إغلاق"))
    next_button = await bounds(card.get_by_role("button", name="التالي"))
    box = await bounds(card)
    launcher = await bounds(page.locator(".gg-launcher"))
    assert close["x"] < title["x"]
    assert next_button["x"] - box["x"] < 40
    assert launcher["x"] < 100

    await page.keyboard.press("ArrowLeft")
    await page.locator(".gg-pop[data-step='2']").wait_for()
    await page.keyboard.press("ArrowRight")
    await page.locator(".gg-pop[data-step='1']").wait_for()


MARKUP = """
guides:
  - id: markup
    kind: announcement
    title: "<img src=x onerror=window.hacked=1>"
    body: |
      <script>window.hacked = 2</script> **bold** and *italic*
      [bad](javascript:window.hacked=3) [data](data:text/html,hi) [good](/help/po) [site](https://example.org/a)
"""


async def test_rule_markup_shown_as_text(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, MARKUP, {"/po/new": FORM_PAGE})
    page = await open_page(site.page_url(app, "/po/new"))

    dialog = page.locator(".gg-modal")
    await dialog.wait_for()
    await screenshot(page, "markup-as-text")
    assert await dialog.locator(".gg-title").inner_text() == "<img src=x onerror=window.hacked=1>"
    body = dialog.locator(".gg-body p")
    assert await body.inner_text() == "<script>window.hacked = 2</script> bold and italic\nbad data good site"
    assert await dialog.locator("script, img").count() == 0
    assert await body.locator("strong").inner_text() == "bold"
    assert await body.locator("em").inner_text() == "italic"
    links = body.locator("a")
    assert await links.all_inner_texts() == ["good", "site"]
    assert await links.nth(0).get_attribute("href") == f"{site.url}/help/po"
    assert await links.nth(0).get_attribute("target") is None
    assert (await links.nth(1).get_attribute("target"), await links.nth(1).get_attribute("rel")) == ("_blank", "noopener noreferrer")
    assert await page.evaluate("() => window.hacked === undefined") is True


async def test_injected_twice_runs_once(site: TestSite, open_page: OpenPage, app: str) -> None:
    twice = FORM_PAGE.replace("{snippet}", "{snippet}{snippet}")
    site.add_app(app, WALKTHROUGH, {"/po/new": twice})
    page = await open_page(site.page_url(app, "/po/new"))
    await page.locator(".gg-pop").wait_for()
    await page.wait_for_timeout(300)
    await flush(page)

    assert await page.evaluate("() => document.querySelectorAll('guidegate-ui').length") == 1
    assert await page.locator(".gg-pop").count() == 1
    assert await page.locator(".gg-launcher").count() == 1
    assert site.config_requests[app] == 1
    assert len(await site.wait_events(app, "guide_shown")) == 1


FRAMES = """
guides:
  - id: frame-walk
    kind: walkthrough
    title: Inside the frame
    pages: [/main]
    steps:
      - body: The vendor field is in the content frame.
        target: {selector: "#vendor", frame: content}
  - id: frame-tip
    kind: tip
    title: Amount in the frame
    body: Net amount.
    pages: [/content]
    target: "#amount"
"""

MAIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Main</title>{snippet}</head>
<body><h1>Main</h1><iframe name="content" src="content" width="600" height="300"></iframe></body></html>
"""


async def test_frames_share_one_help_menu(site: TestSite, open_page: OpenPage, app: str) -> None:
    site.add_app(app, FRAMES, {"/main": MAIN_PAGE, "/content": FORM_PAGE})
    page = await open_page(site.page_url(app, "/main"))
    frame = page.frame(name="content")
    assert frame is not None
    await frame.wait_for_function("() => window.Guidegate && window.Guidegate.ready")
    await frame.evaluate("() => window.Guidegate.ready")

    card = frame.locator(".gg-pop[data-guide='frame-walk']")
    await card.wait_for()
    await frame.locator(".gg-tip[data-guide='frame-tip']").wait_for()
    await screenshot(page, "frames")
    target = await bounds(frame.locator("#vendor"))
    box = await bounds(card)
    assert box["y"] == pytest.approx(target["y"] + target["height"] + 12, abs=1)
    assert await page.locator(".gg-pop").count() == 0
    assert await frame.locator(".gg-launcher").count() == 0

    await card.get_by_role("button", name="Done").click()
    await page.locator(".gg-launcher").click()
    entries = page.locator(".gg-menu .gg-entry")
    await entries.first.wait_for()
    assert sorted(await entries.all_inner_texts()) == ["Amount in the frame", "Inside the frame"]
    await entries.filter(has_text="Amount in the frame").click()
    await frame.locator(".gg-tooltip[data-guide='frame-tip']").wait_for()
