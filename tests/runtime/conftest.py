"""Fixtures for the runtime tests: one headless Chromium per session, one test site, a fresh context per page.

The browser and the site live on the session's event loop, so every test module here declares
`pytestmark = pytest.mark.asyncio(loop_scope="session")`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page

from proxy.config import load_config
from tests.browser import chromium

from .site import ADMIN_COOKIE, ROLES_COOKIE, TestSite

_names = itertools.count(1)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """The installed Chromium, headless; never a downloaded browser."""
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestSite]:
    folder = tmp_path_factory.mktemp("runtime-site")
    config_path = folder / "config.yaml"
    config_path.write_text("apps:\n  - name: web\n    upstream: http://127.0.0.1:9/\n", encoding="utf-8")
    rules = folder / "rules"
    rules.mkdir()
    served = TestSite(load_config(config_path, environ={}), rules)
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
def app(request: pytest.FixtureRequest) -> str:
    """A fresh app name for this test, so its rules, events and state stay its own."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"{stem}-{next(_names)}"


OpenPage = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="session")
async def open_page(browser: Browser, site: TestSite) -> AsyncIterator[OpenPage]:
    """Open a URL in a fresh browser context (own cookies and storage); uncaught page errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_url(
        url: str, *, locale: str = "en-US", roles: str = "", admin: bool = False, width: int = 1000, height: int = 700,
        reduced_motion: bool = True,
    ) -> Page:
        context = await browser.new_context(
            locale=locale, viewport={"width": width, "height": height},
            reduced_motion="reduce" if reduced_motion else "no-preference",
        )
        cookies = []
        if roles:
            cookies.append({"name": ROLES_COOKIE, "value": roles, "url": site.url})
        if admin:
            cookies.append({"name": ADMIN_COOKIE, "value": "1", "url": site.url})
        if cookies:
            await context.add_cookies(cookies)  # type: ignore[arg-type]
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(8000)
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        await page.wait_for_function("() => window.Guidegate && window.Guidegate.ready")
        await page.evaluate("() => window.Guidegate.ready")
        return page

    yield open_url
    for context in contexts:
        await context.close()
    assert errors == []

