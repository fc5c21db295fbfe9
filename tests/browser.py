"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium through Playwright, never a downloaded browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Launch the installed Chromium headless and close it on exit.

    Playwright gives every launch a new temporary user data directory, so no profile state
    carries over from an earlier run.
    """
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()
