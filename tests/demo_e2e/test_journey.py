"""The demo end to end in headless Chromium: three roles through the proxy, their guides, workflows and the report.

One scenario, in order, against one `guidegate demo` process:

1. A clerk signs in: the clerk checklist opens, and each role's page configs hold exactly its guides.
2. The clerk creates a vendor, then follows the purchase-order walkthrough:
   the fields, a save rejected for a bad cost center, the corrected save with its redirect to the
   order page, and Submit for approval.
3. The clerk raises a second order and cancels it, which abandons that workflow run.
4. A manager signs in: the announcement shows and no clerk tip; the manager opens the reports,
   downloads the CSV export and filters the order list.
5. An approver approves the clerk's order.
6. The dashboard shows the counts, and after Ctrl-C `guidegate report --format json` gives the same.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Frame, Page, expect

from tests.browser import chromium

from .demo_process import DemoProcess, guidegate_command, running_demo

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "demo"
CONFIG_URL = "/__guidegate/config?app=demo&url="
FLUSH_TIMEOUT = 10.0

GUIDES_BY_ROLE = {
    "clerk": {
        "/home": ["clerk-checklist"],
        "/po/new": ["po-walkthrough", "cost-center-tip", "delivery-date-tip"],
        "/vendors/new": ["vendor-walkthrough"],
        "/reports": [],
        # Only to continue a walkthrough started on /po/new: its config has starts_here false.
        "/po/2": ["po-walkthrough"],
    },
    "manager": {
        "/home": ["reports-announcement", "manager-checklist"],
        "/po/new": [],
        "/vendors/new": [],
        "/reports": ["reports-tour"],
        "/po/2": [],
    },
    "approver": {
        "/home": ["approver-checklist"],
        "/po/new": [],
        "/vendors/new": [],
        "/reports": [],
        "/po/2": ["decide-walkthrough"],
    },
}
"""The guide ids of each role's page config for some pages, in the order the runtime receives them."""

# NOTE: help requests per week are left out. Whether opening a checklist counts as a help request
# depends on whether the frameset's help menu exists yet when the start page's runtime runs.
EXPECTED: dict[str, Any] = {
    "active_visitors": 3,
    "roles": {"approver": 1, "clerk": 1, "manager": 1},
    "workflows": {
        "create-vendor": {
            "started": 1, "completed": 1, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 0,
            "conversion": 1.0,
            "steps": [["open", 1, 1, 0, 0], ["save", 1, 1, 0, 0]],
        },
        "raise-po": {
            "started": 2, "completed": 1, "abandoned": 1, "cancelled": 1, "open": 0, "failed_runs": 1,
            "conversion": 0.5,
            "steps": [["open", 2, 2, 0, 0], ["save", 2, 2, 1, 1], ["submit", 1, 1, 0, 0]],
        },
        "approve-po": {
            "started": 1, "completed": 1, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 0,
            "conversion": 1.0,
            "steps": [["decide", 1, 1, 0, 0]],
        },
        "open-reports": {
            "started": 1, "completed": 1, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 0,
            "conversion": 1.0,
            "steps": [["open", 1, 1, 0, 0]],
        },
    },
    "features": {
        "reports": {"events": 1, "users": 1},
        "csv-export": {"events": 1, "users": 1},
        "po-filter": {"events": 2, "users": 2},
        "vendor-list": {"events": 0, "users": 0},
    },
    "guides": {
        "po-walkthrough": {"shown": 1, "viewers": 1, "completed": 1, "dismissed": 0, "target_missing": 0},
        "reports-announcement": {"shown": 1, "viewers": 1, "completed": 1, "dismissed": 0, "target_missing": 0},
        "clerk-checklist": {"shown": 1, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
        "manager-checklist": {"shown": 1, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
        "approver-checklist": {"shown": 1, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
        # A tip counts as shown when its field gets focus: the cost center on each of the three
        # loads of the order form, the delivery date on the first and the third.
        "cost-center-tip": {"shown": 3, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
        "delivery-date-tip": {"shown": 2, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
        "vendor-walkthrough": {"shown": 0, "viewers": 0, "completed": 0, "dismissed": 0, "target_missing": 0},
        "decide-walkthrough": {"shown": 0, "viewers": 0, "completed": 0, "dismissed": 0, "target_missing": 0},
        "reports-tour": {"shown": 0, "viewers": 0, "completed": 0, "dismissed": 0, "target_missing": 0},
    },
    # Runs of the linked workflow by visitors who saw the guide, and by those who did not:
    # [visitors, runs, completed, failed runs] each.
    "guide_effects": {
        "po-walkthrough": {"raise-po": [[1, 2, 1, 1], [0, 0, 0, 0]]},
        "cost-center-tip": {"raise-po": [[1, 2, 1, 1], [0, 0, 0, 0]]},
        "delivery-date-tip": {"raise-po": [[1, 2, 1, 1], [0, 0, 0, 0]]},
        "vendor-walkthrough": {"create-vendor": [[0, 0, 0, 0], [1, 1, 1, 0]]},
        "decide-walkthrough": {"approve-po": [[0, 0, 0, 0], [1, 1, 1, 0]]},
    },
    "unused_features": {
        "approver": ["reports", "csv-export", "vendor-list"],
        "clerk": ["reports", "csv-export", "po-filter", "vendor-list"],
        "manager": ["vendor-list"],
    },
}
"""The figures the report must contain after the scenario; `summarize` picks them out of the JSON report."""


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Pick the figures of EXPECTED out of a JSON report, keyed by id so that the order of lists does not matter."""
    funnel_keys = ("started", "completed", "abandoned", "cancelled", "open", "failed_runs", "conversion")
    step_keys = ("step", "reached", "passed", "failures", "stopped")
    workflows = {}
    for workflow in report["workflows"]:
        total = workflow["total"]
        figures: dict[str, Any] = {key: total[key] for key in funnel_keys}
        figures["steps"] = [[step[key] for key in step_keys] for step in total["steps"]]
        workflows[workflow["id"]] = figures
    guide_keys = ("shown", "viewers", "completed", "dismissed", "target_missing")
    cohort_keys = ("visitors", "runs", "completed", "failed_runs")
    return {
        "active_visitors": report["active_visitors"],
        "roles": {role["role"]: role["visitors"] for role in report["roles"]},
        "workflows": workflows,
        "features": {feature["id"]: {"events": feature["events"], "users": feature["users"]} for feature in report["features"]},
        "guides": {
            guide["id"]: {key: guide[key] for key in guide_keys}
            for guide in report["guides"]
            if guide["id"] in EXPECTED["guides"]
        },
        "guide_effects": {
            guide["id"]: {
                effect["workflow"]: [[effect[cohort][key] for key in cohort_keys] for cohort in ("saw", "did_not_see")]
                for effect in guide["effects"]
            }
            for guide in report["guides"]
            if guide["effects"]
        },
        "unused_features": {unused["role"]: unused["features"] for unused in report["unused_features"]},
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def screenshot(page: Page, name: str) -> None:
    """Save a screenshot under test-artifacts/demo/ for reviewing the journey or a failure."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def runtime_ready(frame: Frame) -> None:
    """Wait until the runtime of the frame's current document has fetched its config and started its guides."""
    await frame.wait_for_function("() => window.Guidegate !== undefined && window.Guidegate.ready !== undefined")
    await frame.evaluate("() => window.Guidegate.ready")


async def navigate(frame: Frame, url_glob: str, selector: str) -> None:
    """Click `selector` in `frame`, wait for the frame's next document at `url_glob` and for its runtime."""
    async with frame.expect_navigation(url=url_glob):
        await frame.locator(selector).first.click()
    await runtime_ready(frame)


async def guide_ids(frame: Frame, path: str) -> list[str]:
    """Fetch the page config of `path` as the frame's user, the way the runtime does, and return its guide ids."""
    ids: list[str] = await frame.evaluate(
        """async ([configUrl, path]) => {
            const response = await fetch(configUrl + encodeURIComponent(path), { credentials: 'same-origin' });
            return (await response.json()).guides.map((guide) => guide.id);
        }""",
        [CONFIG_URL, path],
    )
    return ids


async def guide_state(frame: Frame, path: str, guide_id: str) -> dict[str, Any]:
    """Return the visitor's stored state of a guide, from the page config of `path` as the runtime receives it.

    Waits up to 5 seconds for the guide to have been shown, since the runtime stores state with a
    request of its own after showing the guide.
    """
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        state: dict[str, Any] = await frame.evaluate(
            """async ([configUrl, path, id]) => {
                const response = await fetch(configUrl + encodeURIComponent(path), { credentials: 'same-origin' });
                return (await response.json()).state[id] || {};
            }""",
            [CONFIG_URL, path, guide_id],
        )
        if state.get("shown") or asyncio.get_running_loop().time() > deadline:
            return state
        await asyncio.sleep(0.1)


async def close_help_menus(page: Page) -> None:
    """Close the help menu in whichever document of the page shows it, so it covers nothing the test clicks next."""
    for frame in page.frames:
        close = frame.locator(".gg-menu .gg-x")
        if await close.count():
            await close.first.click()


async def checklist_done(frame: Frame, path: str, guide_id: str) -> list[bool]:
    """Return the `done` flags of a checklist's items in the page config of `path`, as the runtime receives them."""
    done: list[bool] = await frame.evaluate(
        """async ([configUrl, path, id]) => {
            const response = await fetch(configUrl + encodeURIComponent(path), { credentials: 'same-origin' });
            const guide = (await response.json()).guides.find((candidate) => candidate.id === id);
            return guide.items.map((item) => item.done);
        }""",
        [CONFIG_URL, path, guide_id],
    )
    return done


async def flush_events(page: Page) -> None:
    """Make the runtime of every frame of `page` send its queued engagement events now."""
    for frame in page.frames:
        await frame.evaluate("() => window.Guidegate && window.Guidegate.flush()")


class Journey:
    """The browser contexts of the scenario, each user's page and its `main` frame."""

    def __init__(self, browser: Browser, demo: DemoProcess) -> None:
        self.browser = browser
        self.demo = demo
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []
        self.errors: list[str] = []

    async def sign_in(self, username: str) -> tuple[Page, Frame]:
        """Sign in as `username` in a fresh browser context through the proxy; return the page and its main frame."""
        context = await self.browser.new_context(
            locale="en-US", viewport={"width": 1280, "height": 860}, reduced_motion="reduce", accept_downloads=True
        )
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(8000)
        page.on("pageerror", lambda error: self.errors.append(f"{username}: {error}"))
        self.pages.append(page)

        await page.goto(self.demo.url + "/login")
        await runtime_ready(page.main_frame)
        await page.fill("#username", username)
        await page.fill("#password", username)
        async with page.expect_navigation(url=self.demo.url + "/"):
            await page.click("#login")
        main = page.frame(name="main")
        assert main is not None
        await main.wait_for_url("**/home")
        for frame in page.frames:
            await runtime_ready(frame)
        return page, main

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


async def test_demo_journey(browser: Browser, tmp_path: Path) -> None:
    async with running_demo(tmp_path) as demo:
        journey = Journey(browser, demo)
        try:
            await clerk_journey(journey)
            await manager_journey(journey)
            await approver_journey(journey)
            for page in journey.pages:
                await flush_events(page)
            await dashboard_shows_counts(journey)
        finally:
            await journey.close()
        assert journey.errors == []

        assert await demo.stop() == 0, demo.log()
        assert summarize(await report_from_command(demo)) == EXPECTED


async def clerk_journey(journey: Journey) -> None:
    page, main = await journey.sign_in("clerk")

    # The checklist shows (in the help menu) on the first visit of the start page.
    # NOTE: which document of the frameset shows the help menu depends on load timing in the
    # runtime, so the test reads the checklist's stored state instead of looking for the menu.
    assert (await guide_state(main, "/home", "clerk-checklist"))["shown"] == 1
    assert await checklist_done(main, "/home", "clerk-checklist") == [False, False]
    for path, expected in GUIDES_BY_ROLE["clerk"].items():
        assert await guide_ids(main, path) == expected, path
    await screenshot(page, "01-clerk-home")
    await close_help_menus(page)

    # Create a vendor: the vendor walkthrough is help-menu only, so none starts.
    await navigate(main, "**/vendors/new", "#home_new_vendor")
    await expect(main.locator(".gg-card")).to_have_count(0)
    await main.fill("#name", "Kontor Papier KG")
    await main.fill("#tax_id", "DE111222333")
    await main.fill("#email", "orders@kontor.example")
    await navigate(main, "**/vendors/4", "#save")
    assert await checklist_done(main, "/home", "clerk-checklist") == [True, False]

    # The purchase-order walkthrough starts on the first visit of the form, with both field tips.
    await navigate(main, "**/po/new?vendor=4", "#raise_order")
    card = main.locator('.gg-card[data-guide="po-walkthrough"]')
    await expect(card).to_have_attribute("data-step", "1")
    await expect(card.locator(".gg-title")).to_have_text("Vendor")
    await expect(main.locator('.gg-tip[data-guide="cost-center-tip"]')).to_be_attached()
    await expect(main.locator('.gg-tip[data-guide="delivery-date-tip"]')).to_be_attached()
    await screenshot(page, "02-walkthrough-vendor")
    await card.locator(".gg-primary").click()

    await expect(card).to_have_attribute("data-step", "2")
    await main.fill("#description", "Toner cartridges for the 2nd floor printers")
    await main.fill("#quantity", "6")
    await main.fill("#unit_price", "89.90")
    await card.locator(".gg-primary").click()

    await expect(card).to_have_attribute("data-step", "3")
    await main.fill("#cost_center", "47")
    await card.locator(".gg-primary").click()

    await expect(card).to_have_attribute("data-step", "4")
    delivery = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    await main.fill("#delivery_date", delivery)
    await card.locator(".gg-primary").click()

    # Save with a bad cost center: the form comes back with the error and the walkthrough waits at Save.
    await expect(card).to_have_attribute("data-step", "5")
    await navigate(main, "**/po/new", "#save")
    await expect(main.locator("#error_cost_center")).to_have_text("Cost center must be exactly 4 digits, e.g. 4711.")
    await expect(card).to_have_attribute("data-step", "5")
    await expect(main.locator('.gg-tip[data-guide="cost-center-tip"]')).to_be_attached()
    await screenshot(page, "03-walkthrough-rejected-save")

    # The corrected save redirects to the new order, where the walkthrough goes on at Submit.
    await main.fill("#cost_center", "4711")
    await navigate(main, "**/po/4", "#save")
    await expect(card).to_have_attribute("data-step", "6")
    await expect(main.locator("#po_status")).to_have_text("Draft")
    await screenshot(page, "04-walkthrough-submit")

    await navigate(main, "**/po/4", "#submit_po")
    await expect(main.locator("#po_status")).to_have_text("Submitted")
    await expect(card).to_have_attribute("data-step", "7")
    await expect(card.locator(".gg-title")).to_have_text("Done")
    await screenshot(page, "05-walkthrough-done")
    await card.locator(".gg-primary").click()
    await expect(card).to_have_count(0)
    assert await checklist_done(main, "/home", "clerk-checklist") == [True, True]

    # A second order, cancelled after saving: the walkthrough is completed and stays away.
    nav = page.frame(name="nav")
    assert nav is not None
    async with main.expect_navigation(url="**/po/new"):
        await nav.locator("#nav_new_order").click()
    await runtime_ready(main)
    await expect(main.locator('.gg-tip[data-guide="cost-center-tip"]')).to_be_attached()
    await expect(main.locator('.gg-tip[data-guide="delivery-date-tip"]')).to_be_attached()
    await expect(main.locator(".gg-card")).to_have_count(0)
    await main.select_option("#vendor", "1")
    await main.fill("#description", "Desk lamps")
    await main.fill("#quantity", "2")
    await main.fill("#unit_price", "34.50")
    await main.fill("#cost_center", "4711")
    await main.fill("#delivery_date", delivery)
    await navigate(main, "**/po/5", "#save")
    await navigate(main, "**/po/5/cancel", "#cancel_po")
    await navigate(main, "**/po/5", "#confirm_cancel")
    await expect(main.locator("#po_status")).to_have_text("Cancelled")
    await flush_events(page)


async def manager_journey(journey: Journey) -> None:
    page, main = await journey.sign_in("manager")

    announcement = main.locator('.gg-modal[data-guide="reports-announcement"]')
    await expect(announcement).to_be_visible()
    await expect(main.locator(".gg-tip")).to_have_count(0)
    for path, expected in GUIDES_BY_ROLE["manager"].items():
        assert await guide_ids(main, path) == expected, path
    await screenshot(page, "06-manager-announcement")
    await announcement.locator(".gg-primary").click()
    await expect(announcement).to_have_count(0)

    assert (await guide_state(main, "/home", "manager-checklist"))["shown"] == 1
    await close_help_menus(page)
    nav = page.frame(name="nav")
    assert nav is not None
    async with main.expect_navigation(url="**/reports"):
        await nav.locator("#nav_reports").click()
    await runtime_ready(main)
    assert await checklist_done(main, "/home", "manager-checklist") == [True]

    async with page.expect_download() as download_info:
        await main.locator("#export_csv").click()
    download = await download_info.value
    assert download.suggested_filename == "orders.csv"
    assert await download.path() is not None

    async with main.expect_navigation(url="**/po"):
        await nav.locator("#nav_orders").click()
    await runtime_ready(main)
    await main.select_option("select[name=status]", "Submitted")
    await navigate(main, "**/po?status=Submitted", "#filter")
    await flush_events(page)


async def approver_journey(journey: Journey) -> None:
    page, main = await journey.sign_in("approver")

    assert (await guide_state(main, "/home", "approver-checklist"))["shown"] == 1
    for path, expected in GUIDES_BY_ROLE["approver"].items():
        assert await guide_ids(main, path) == expected, path
    await close_help_menus(page)
    nav = page.frame(name="nav")
    assert nav is not None
    async with main.expect_navigation(url="**/po?status=Submitted"):
        await nav.locator("#nav_awaiting").click()
    await runtime_ready(main)
    await navigate(main, "**/po/4", 'a:text-is("PO 4")')
    await navigate(main, "**/po/4", "#approve")
    await expect(main.locator("#po_status")).to_have_text("Approved")
    assert await checklist_done(main, "/home", "approver-checklist") == [True]
    await flush_events(page)


async def dashboard_shows_counts(journey: Journey) -> None:
    """Wait until the dashboard's JSON report contains the expected counts, then check the HTML page shows them."""
    demo = journey.demo
    context = await journey.browser.new_context(viewport={"width": 1280, "height": 2000})
    journey.contexts.append(context)
    page = await context.new_page()
    await page.goto(f"{demo.url}/__guidegate/admin/?token={demo.token}")
    assert page.url == f"{demo.url}/__guidegate/admin/"

    # The writer stores events in batches every half second; runtime events arrive after a flush.
    deadline = asyncio.get_running_loop().time() + FLUSH_TIMEOUT
    while True:
        response = await context.request.get(f"{demo.url}/__guidegate/admin/report.json")
        assert response.status == 200
        summary = summarize(await response.json())
        if summary == EXPECTED or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.25)
    assert summary == EXPECTED

    await page.reload()
    await expect(page.locator("h1")).to_have_text("Adoption report: demo")
    raise_po = page.locator("h3", has_text="(raise-po)")
    await expect(raise_po).to_have_text("Raise a purchase order and submit it (raise-po)")
    figures = raise_po.locator("xpath=following-sibling::ul[1]/li")
    await expect(figures.nth(0)).to_have_text("2started")
    await expect(figures.nth(1)).to_have_text("1completed")
    await screenshot(page, "07-dashboard")


async def report_from_command(demo: DemoProcess) -> dict[str, Any]:
    """Run `guidegate report --format json` on the demo's data folder as its own process and parse the output."""
    process = await asyncio.create_subprocess_exec(
        *guidegate_command(),
        "report",
        "--config",
        str(demo.config),
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.json").write_bytes(out)
    report: dict[str, Any] = json.loads(out)
    return report
