"""Roundup, a real issue tracker, behind Guidegate: guides per role, workflows and the report in Chromium, and the bytes on the wire.

The tracker runs in its own process (tests/roundup_tracker.py) with its `web` URL set to the
proxy's URL, which therefore uses one fixed port for the whole module. The scenario of
`test_roundup_journey`, in order:

1. alice (role user) signs in; her page configs hold exactly her guides. The create-issue
   walkthrough leads her through title, priority and Submit, across the POST and its redirect
   to the new issue, where it finishes.
2. alice opens the form again, types a title and logs out: the run is abandoned (cancelled).
3. dave (role developer) signs in; his page configs hold exactly his guides. He submits the form
   without a title (a failed step), then with one (success), and changes the new issue's status.
4. The report, after the proxy's events are written, contains exactly the expected counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import re
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import brotli  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from conftest import free_port
from proxy.cli import main as guidegate_main
from proxy.config import load_config
from proxy.gateway import Gateway
from proxy.server import GatewayRunner, create_runner
from tests.browser import chromium
from tests.roundup_tracker import ALICE, DAVE, READY_PREFIX, SESSION_COOKIE, TrackerUser

pytest.importorskip("roundup", reason="the roundup package is not installed; `pip install -e '.[test]'` installs it")

pytestmark = pytest.mark.browser

REPOSITORY = Path(__file__).resolve().parents[1]
RULES = REPOSITORY / "rules" / "examples" / "roundup"
TRACKER_SCRIPT = Path(__file__).with_name("roundup_tracker.py")
ARTIFACTS = REPOSITORY / "test-artifacts" / "roundup"
TRACKER_START_TIMEOUT = 30.0
SETTLE_TIMEOUT = 10.0

CONFIG = """\
apps:
  - name: roundup
    upstream: {upstream}
    path_prefix: {path_prefix}
    host_header: {host_header}
    rules: [{rules}]
    identity:
      sources: [page, map]
      page:
        session_cookie: {session_cookie}
        user_regex: '<b>Hello, ([^<]+)</b>'
      map: {rules}/users.csv
storage:
  path: events.sqlite3
"""

NEW_ISSUE_LINK = 'a[href="issue?@template=item"]'
NEW_ISSUE_URL = re.compile(r"/issue\?@template=item$")
ISSUE_URL = re.compile(r"/issue[0-9]+\?(@|%40)ok_message=")
FORM_AGAIN_URL = re.compile(r"/issue$")
SNIPPET = re.compile(rb'<script src="[^"]*/__guidegate/runtime/[^"]+/guidegate\.js" defer="defer" data-guidegate-app="roundup"></script>')
# A per-request script nonce and single-use CSRF tokens differ between any two Roundup pages.
PER_REQUEST_VALUES = re.compile(rb'(nonce=|name="@csrf"\s+type="hidden"\s+value=)"[^"]*"')

GUIDES = {
    ALICE.username: {
        "/issue?@template=item": ["create-issue-walkthrough", "title-tip"],
        "/issue": ["title-tip"],
        # Only to continue a walkthrough started on the form: its config has starts_here false.
        "/issue1": ["create-issue-walkthrough"],
    },
    DAVE.username: {
        "/issue?@template=item": ["title-tip", "priority-tip"],
        "/issue": ["title-tip", "priority-tip"],
        "/issue1": ["status-tip"],
    },
}
"""The guide ids of each user's page config for some pages, in the order the runtime receives them."""


@dataclass(frozen=True)
class Tracker:
    """The running tracker process: its own URL and the public URL (the proxy's) it was configured for."""

    url: str
    proxy_port: int
    path_prefix: str
    log: Path

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}{self.path_prefix}"


@contextlib.contextmanager
def running_tracker(folder: Path, path_prefix: str = "/") -> Iterator[Tracker]:
    """Create and serve a tracker whose web URL is a proxy port chosen now, under `path_prefix`; stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    proxy_port = free_port()
    log = folder / "tracker.log"
    command = [
        sys.executable, str(TRACKER_SCRIPT), "--proxy-url", f"http://127.0.0.1:{proxy_port}{path_prefix}",
        "--port", "0", "--home", str(folder / "tracker"),
    ]
    with log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], TRACKER_START_TIMEOUT)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith(READY_PREFIX):
            raise AssertionError(f"the tracker did not start within {TRACKER_START_TIMEOUT} s: {line!r}\n{log.read_text()}")
        yield Tracker(line[len(READY_PREFIX) :].strip(), proxy_port, path_prefix, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        process.stdout.close()


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracker]:
    """The tracker that every test of the module but one uses, at the root of the proxy's URL."""
    with running_tracker(tmp_path_factory.mktemp("roundup")) as started:
        yield started


@dataclass
class Guidegate:
    """A proxy in front of the tracker, on the port the tracker's web URL names."""

    url: str
    config: Path
    runner: GatewayRunner

    @property
    def gateway(self) -> Gateway:
        return self.runner.gateway


@contextlib.asynccontextmanager
async def running_guidegate(tracker: Tracker, folder: Path, host_header: str = "client") -> AsyncIterator[Guidegate]:
    """Start Guidegate with the Roundup example rules and identity settings; stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "config.yaml"
    config_path.write_text(
        CONFIG.format(
            upstream=tracker.url, path_prefix=tracker.path_prefix, host_header=host_header, rules=RULES, session_cookie=SESSION_COOKIE
        ),
        encoding="utf-8",
    )
    runner = create_runner(load_config(config_path))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", tracker.proxy_port).start()
        yield Guidegate(tracker.proxy_url, config_path, runner)
    finally:
        await runner.cleanup()


# Byte-level checks, without a browser.


def normalized(page: bytes) -> bytes:
    """Return a Roundup page with its per-request nonce and CSRF token values blanked."""
    return PER_REQUEST_VALUES.sub(rb'\1""', page)


def decoded(body: bytes, coding: str | None) -> bytes:
    """Undo a response's content coding."""
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return bytes(brotli.decompress(body))
    return body


@pytest.mark.parametrize(
    ("accept", "destination", "coding"),
    [
        pytest.param("gzip", "document", "gzip", id="gzip"),
        pytest.param("br", "document", "br", id="brotli"),
        pytest.param("identity", "document", None, id="identity"),
        # Without fetch metadata Guidegate checks that the body starts like a whole document,
        # which Roundup's leading comment must not defeat.
        pytest.param("gzip", None, "gzip", id="gzip-sniffed"),
    ],
)
async def test_roundup_page_injection(
    tracker: Tracker, tmp_path: Path, accept: str, destination: str | None, coding: str | None
) -> None:
    headers = {"Accept-Encoding": accept, "Host": f"127.0.0.1:{tracker.proxy_port}"}
    if destination is not None:
        headers["Sec-Fetch-Dest"] = destination
    async with running_guidegate(tracker, tmp_path) as guidegate, aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(tracker.url, headers=headers) as response:
            assert response.headers.get("Content-Encoding") == coding
            direct = decoded(await response.read(), coding)
        async with client.get(guidegate.url, headers=headers) as response:
            assert response.status == 200
            assert response.headers.get("Content-Encoding") == coding
            assert response.headers["Vary"] == "Accept-Encoding"
            proxied = decoded(await response.read(), coding)

    # Roundup's page opens with a comment, then the doctype; the tag goes right after <head>.
    assert proxied.startswith(b"<!--\n This is the default body")
    snippets = SNIPPET.findall(proxied)
    assert len(snippets) == 1
    head = proxied.index(b"<head>") + len(b"<head>")
    assert proxied[head : head + len(snippets[0])] == snippets[0]
    assert proxied.index(b"<!DOCTYPE HTML PUBLIC") < head
    assert normalized(proxied.replace(snippets[0], b"", 1)) == normalized(direct)


async def test_roundup_static_untouched(tracker: Tracker, tmp_path: Path) -> None:
    headers = {"Accept-Encoding": "gzip", "Host": f"127.0.0.1:{tracker.proxy_port}"}
    async with running_guidegate(tracker, tmp_path) as guidegate, aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(tracker.url + "@@file/style.css", headers=headers) as response:
            direct = await response.read()
            direct_type = response.headers["Content-Type"]
        async with client.get(guidegate.url + "@@file/style.css", headers=headers) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == direct_type
            assert response.headers["Content-Encoding"] == "gzip"
            assert await response.read() == direct


def login_form(page: str) -> dict[str, str]:
    """Return the hidden and named fields of Roundup's sidebar login form on an anonymous page."""
    form = page[page.index('<p class="userblock">\n\t\t    <b>Login</b>') :]
    token = re.search(r'name="@csrf" type="hidden"\s+value="([^"]+)"', form)
    came_from = re.search(r'name="__came_from"\s+value="([^"]*)"', form)
    assert token is not None
    assert came_from is not None
    return {"@action": "Login", "@csrf": token.group(1), "__came_from": came_from.group(1)}


@pytest.mark.parametrize(
    ("host_header", "origin", "expected"),
    [
        pytest.param("client", "{proxy}", "signed-in", id="client-host"),
        # Guidegate always sends X-Forwarded-Host with the public host, and Roundup checks that
        # header instead of Host when it is present.
        pytest.param("upstream", "{proxy}", "signed-in", id="upstream-host"),
        pytest.param("client", "http://127.0.0.2:9", "Invalid Origin http://127.0.0.2:9", id="foreign-origin"),
    ],
)
async def test_roundup_csrf_login(tracker: Tracker, tmp_path: Path, host_header: str, origin: str, expected: str) -> None:
    public = tracker.proxy_url.rstrip("/")
    async with running_guidegate(tracker, tmp_path, host_header) as guidegate, aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as client:
        async with client.get(guidegate.url) as response:
            fields = login_form(await response.text())
        fields |= {"__login_name": ALICE.username, "__login_password": ALICE.password}
        headers = {"Origin": origin.format(proxy=public), "Referer": guidegate.url}
        async with client.post(guidegate.url, data=fields, headers=headers, allow_redirects=False) as response:
            body = await response.text()
            status, location = response.status, response.headers.get("Location", "")
        if expected != "signed-in":
            assert status == 200
            assert f'<p class="error-message">{expected}' in body
            return
        assert status == 302
        assert location == f"{guidegate.url}?%40ok_message=Welcome+alice%21"
        async with client.get(location) as response:
            assert "<b>Hello, alice</b>" in await response.text()


async def test_roundup_under_path_prefix(tmp_path: Path) -> None:
    with running_tracker(tmp_path / "prefixed", "/tracker/") as prefixed:
        async with running_guidegate(prefixed, tmp_path) as guidegate, aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as client:
            async with client.get(guidegate.url) as response:
                fields = login_form(await response.text())
            fields |= {"__login_name": ALICE.username, "__login_password": ALICE.password}
            headers = {"Origin": f"http://127.0.0.1:{prefixed.proxy_port}", "Referer": guidegate.url}
            async with client.post(guidegate.url, data=fields, headers=headers, allow_redirects=False) as response:
                assert response.status == 302
                assert response.headers["Set-Cookie"].split("; ")[1] == "Path=/tracker/"
                location = response.headers["Location"]
            async with client.get(location) as response:
                assert "<b>Hello, alice</b>" in await response.text()


# The journey in Chromium.

EXPECTED: dict[str, Any] = {
    "active_visitors": 2,
    "roles": {"developer": 1, "user": 1},
    # Per workflow and role: the funnel figures and [step, reached, passed, failures, stopped] per step.
    "workflows": {
        "create-issue": {
            "(all)": {
                "started": 3, "completed": 2, "abandoned": 1, "cancelled": 1, "open": 0, "failed_runs": 1,
                "conversion": 2 / 3,
                "steps": [["open", 3, 3, 0, 1], ["submit", 2, 2, 1, 0]],
            },
            "developer": {
                "started": 1, "completed": 1, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 1,
                "conversion": 1.0,
                "steps": [["open", 1, 1, 0, 0], ["submit", 1, 1, 1, 0]],
            },
            "user": {
                "started": 2, "completed": 1, "abandoned": 1, "cancelled": 1, "open": 0, "failed_runs": 0,
                "conversion": 0.5,
                "steps": [["open", 2, 2, 0, 1], ["submit", 1, 1, 0, 0]],
            },
        },
        "change-status": {
            "(all)": {
                "started": 1, "completed": 1, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 0,
                "conversion": 1.0,
                "steps": [["open", 1, 1, 0, 0], ["save", 1, 1, 0, 0]],
            },
            "developer": {
                "started": 1, "completed": 1, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 0,
                "conversion": 1.0,
                "steps": [["open", 1, 1, 0, 0], ["save", 1, 1, 0, 0]],
            },
            "user": {
                "started": 0, "completed": 0, "abandoned": 0, "cancelled": 0, "open": 0, "failed_runs": 0,
                "conversion": None,
                "steps": [["open", 0, 0, 0, 0], ["save", 0, 0, 0, 0]],
            },
        },
    },
    "features": {"search-issues": {"events": 0, "users": 0}},
    # A tip counts as shown once per page load, when its text first pops up (focus or hover).
    "guides": {
        "create-issue-walkthrough": {"shown": 1, "viewers": 1, "completed": 1, "dismissed": 0, "target_missing": 0},
        "title-tip": {"shown": 3, "viewers": 2, "completed": 0, "dismissed": 0, "target_missing": 0},
        "priority-tip": {"shown": 1, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
        "status-tip": {"shown": 1, "viewers": 1, "completed": 0, "dismissed": 0, "target_missing": 0},
    },
    # Runs of the linked workflow by visitors who saw the guide, and by those who did not:
    # [visitors, runs, completed, failed runs] each.
    "guide_effects": {"create-issue-walkthrough": {"create-issue": [[1, 2, 1, 0], [1, 1, 1, 1]]}},
    "unused_features": {"developer": ["search-issues"], "user": ["search-issues"]},
    "help_requests": 0,
}
"""The figures the report must contain after the scenario; `summarize` picks them out of the JSON report."""


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Pick the figures of EXPECTED out of a JSON report, keyed by id so that the order of lists does not matter."""
    workflows: dict[str, Any] = {}
    funnel_keys = ("started", "completed", "abandoned", "cancelled", "open", "failed_runs", "conversion")
    for workflow in report["workflows"]:
        funnels = [workflow["total"], *workflow["by_role"]]
        workflows[workflow["id"]] = {
            funnel["role"] or "(all)": {key: funnel[key] for key in funnel_keys}
            | {"steps": [[step["step"], step["reached"], step["passed"], step["failures"], step["stopped"]] for step in funnel["steps"]]}
            for funnel in funnels
        }
    guide_keys = ("shown", "viewers", "completed", "dismissed", "target_missing")
    cohort_keys = ("visitors", "runs", "completed", "failed_runs")
    return {
        "active_visitors": report["active_visitors"],
        "roles": {role["role"]: role["visitors"] for role in report["roles"]},
        "workflows": workflows,
        "features": {feature["id"]: {"events": feature["events"], "users": feature["users"]} for feature in report["features"]},
        "guides": {guide["id"]: {key: guide[key] for key in guide_keys} for guide in report["guides"]},
        "guide_effects": {
            guide["id"]: {
                effect["workflow"]: [[effect[cohort][key] for key in cohort_keys] for cohort in ("saw", "did_not_see")]
                for effect in guide["effects"]
            }
            for guide in report["guides"]
            if guide["effects"]
        },
        "unused_features": {unused["role"]: unused["features"] for unused in report["unused_features"]},
        "help_requests": sum(week["requests"] for week in report["help"]),
    }


async def screenshot(page: Page, name: str) -> None:
    """Save a screenshot under test-artifacts/roundup/ for the docs and for reviewing a failure."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def runtime_ready(page: Page) -> None:
    """Wait until the runtime of the current document has fetched its config and started its guides."""
    await page.wait_for_function("() => window.Guidegate !== undefined && window.Guidegate.ready !== undefined")
    await page.evaluate("() => window.Guidegate.ready")


async def navigate(page: Page, url: re.Pattern[str], selector: str) -> None:
    """Click `selector`, wait for the next document at a URL that `url` finds, and for its runtime."""
    async with page.expect_navigation(url=url):
        await page.locator(selector).first.click()
    await runtime_ready(page)


async def guide_ids(page: Page, path: str) -> list[str]:
    """Fetch the page config of `path` as the page's user, the way the runtime does, and return its guide ids."""
    ids: list[str] = await page.evaluate(
        """async (path) => {
            const response = await fetch('/__guidegate/config?app=roundup&url=' + encodeURIComponent(path), { credentials: 'same-origin' });
            return (await response.json()).guides.map((guide) => guide.id);
        }""",
        path,
    )
    return ids


async def show_tip(page: Page, guide: str, text: str) -> None:
    """Focus a tip's marker, as a keyboard user would, and check that its text pops up.

    The runtime counts a tip as shown the first time its text pops up on a page load, also when
    its target field gets focus. The walkthrough focuses the title field itself, possibly before
    the title tip listens, so the test shows each tip it counts this way.
    """
    await page.locator(f'.gg-tip[data-guide="{guide}"]').focus()
    await expect(page.locator(f'.gg-tooltip[data-guide="{guide}"]')).to_contain_text(text)


async def flush_events(page: Page) -> None:
    """Make the page's runtime send its queued engagement events now."""
    await page.evaluate("() => window.Guidegate && window.Guidegate.flush()")


class Journey:
    """The browser contexts of the scenario and the errors their pages raised."""

    def __init__(self, browser: Browser, guidegate: Guidegate) -> None:
        self.browser = browser
        self.guidegate = guidegate
        self.pages: list[Page] = []
        self.errors: list[str] = []

    async def sign_in(self, user: TrackerUser) -> Page:
        """Sign in with Roundup's login form in a fresh browser context; return once Guidegate has learned the user."""
        context = await self.browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
        page = await context.new_page()
        page.set_default_timeout(8000)
        page.on("pageerror", lambda error: self.errors.append(f"{user.username}: {error}"))
        self.pages.append(page)

        await page.goto(self.guidegate.url)
        await runtime_ready(page)
        await page.fill("input[name=__login_name]", user.username)
        await page.fill("input[name=__login_password]", user.password)
        await navigate(page, re.compile(r"/\?(@|%40)ok_message=Welcome"), "input[type=submit][value=Login]")
        await expect(page.locator("p.userblock b").first).to_have_text(f"Hello, {user.username}")
        await self.wait_until_known(page, user)
        return page

    async def wait_until_known(self, page: Page, user: TrackerUser) -> None:
        """Wait until the page source has read the user name from a page of this Roundup session.

        Guidegate reads pages off the request path, so a request sent right after the first page
        of a session could still find the session unknown.
        """
        cookies = {cookie["name"]: cookie["value"] for cookie in await page.context.cookies()}
        resolver = self.guidegate.gateway.visitors.resolvers["roundup"]
        deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
        while resolver.resolve("127.0.0.1", {}, cookies, secure=False).user != user.username:
            assert asyncio.get_running_loop().time() < deadline, f"Guidegate did not learn {user.username} from the page"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for page in self.pages:
            await page.context.close()


async def settle(guidegate: Guidegate) -> None:
    """Wait until no new events arrive for half a second, then until the writer has stored every one."""
    writer = guidegate.gateway.writer
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    accepted = -1
    while writer.stats().accepted != accepted and asyncio.get_running_loop().time() < deadline:
        accepted = writer.stats().accepted
        await asyncio.sleep(0.5)
    assert await writer.flush()


async def report(config: Path) -> dict[str, Any]:
    """Run `guidegate report --format json` for the config (in a thread, since it runs its own event loop)."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return guidegate_main(["report", "--config", str(config), "--format", "json"])

    assert await asyncio.to_thread(run) == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.json").write_text(out.getvalue(), encoding="utf-8")
    parsed: dict[str, Any] = json.loads(out.getvalue())
    return parsed


async def test_roundup_journey(tracker: Tracker, tmp_path: Path) -> None:
    async with running_guidegate(tracker, tmp_path) as guidegate, chromium() as browser:
        journey = Journey(browser, guidegate)
        try:
            await alice_journey(journey)
            await dave_journey(journey)
            for page in journey.pages:
                await flush_events(page)
        finally:
            await journey.close()
        assert journey.errors == []
        await settle(guidegate)
        summary = summarize(await report(guidegate.config))
    assert summary == EXPECTED


async def alice_journey(journey: Journey) -> None:
    page = await journey.sign_in(ALICE)
    for path, expected in GUIDES[ALICE.username].items():
        assert await guide_ids(page, path) == expected, path

    # The walkthrough starts on the new issue form, beside the title tip.
    await navigate(page, NEW_ISSUE_URL, NEW_ISSUE_LINK)
    card = page.locator('.gg-card[data-guide="create-issue-walkthrough"]')
    await expect(card).to_have_attribute("data-step", "1")
    await expect(card.locator(".gg-title")).to_have_text("Title")
    await expect(page.locator('.gg-tip[data-guide="title-tip"]')).to_be_attached()
    await expect(page.locator('.gg-tip[data-guide="priority-tip"]')).to_have_count(0)
    await show_tip(page, "title-tip", "A title is required. Name the symptom, not the cause.")
    await screenshot(page, "01-walkthrough-title")

    await page.fill("#title", "Search page times out")
    await page.press("#title", "Tab")
    await expect(card).to_have_attribute("data-step", "2")
    await page.select_option("select[name=priority]", label="bug")
    await expect(card).to_have_attribute("data-step", "3")
    await screenshot(page, "02-walkthrough-submit")

    # Submit posts the form with its single-use CSRF token; Roundup redirects to the new issue.
    await navigate(page, ISSUE_URL, "#submit_button")
    await expect(page.locator("p.ok-message")).to_contain_text("created")
    await expect(card).to_have_attribute("data-step", "4")
    await expect(card.locator(".gg-title")).to_have_text("Issue reported")
    await screenshot(page, "03-walkthrough-done")
    await card.locator(".gg-primary").click()
    await expect(card).to_have_count(0)

    # The form again: the walkthrough is done, so only the tip shows. Logging out abandons the run.
    await navigate(page, NEW_ISSUE_URL, NEW_ISSUE_LINK)
    await expect(page.locator('.gg-tip[data-guide="title-tip"]')).to_be_attached()
    await expect(card).to_have_count(0)
    await page.fill("#title", "Printer queue")
    await flush_events(page)
    await navigate(page, re.compile(r"/$"), 'a:text-is("Logout")')
    await expect(page.locator("input[name=__login_name]")).to_be_visible()


async def dave_journey(journey: Journey) -> None:
    page = await journey.sign_in(DAVE)
    for path, expected in GUIDES[DAVE.username].items():
        assert await guide_ids(page, path) == expected, path

    await navigate(page, NEW_ISSUE_URL, NEW_ISSUE_LINK)
    await expect(page.locator('.gg-tip[data-guide="title-tip"]')).to_be_attached()
    await expect(page.locator(".gg-card")).to_have_count(0)
    await show_tip(page, "priority-tip", "critical: production is down.")

    # Without a title Roundup shows the form again with its error message.
    await page.select_option("select[name=priority]", label="urgent")
    await navigate(page, FORM_AGAIN_URL, "#submit_button")
    await expect(page.locator("p.error-message")).to_have_text("Error: Required issue property title not supplied")
    await expect(page.locator('.gg-tip[data-guide="title-tip"]')).to_be_attached()
    await screenshot(page, "04-missing-title")

    await page.fill("#title", "CSV export drops the last row")
    await navigate(page, ISSUE_URL, "#submit_button")
    await expect(page.locator("p.ok-message")).to_contain_text("created")
    issue = urlsplit(page.url).path

    # Open the issue as from the list, then change its status.
    await page.goto(journey.guidegate.url + issue.lstrip("/"))
    await runtime_ready(page)
    await show_tip(page, "status-tip", "Set in-progress when you start")
    await page.select_option("select[name=status]", label="in-progress")
    await navigate(page, ISSUE_URL, "#submit_button")
    await expect(page.locator("p.ok-message")).to_contain_text("edited ok")
    await expect(page.locator("select[name=status] option[selected]")).to_have_text("in-progress")
    await screenshot(page, "05-status-changed")
