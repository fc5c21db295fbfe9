"""Helpers for the runtime's browser tests: page templates, screenshots and waiting for events."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import FloatRect, Locator, Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "runtime"

FORM_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>New purchase order</title>{snippet}</head>
<body>
<h1>New purchase order</h1>
<form method="post" action="new" id="po-form">
  <p><label for="vendor">Vendor</label> <input id="vendor" name="vendor"></p>
  <p><label for="amount">Amount</label> <input id="amount" name="amount"></p>
  <p><button id="save" type="submit">Save order</button></p>
</form>
</body></html>
"""


async def screenshot(page: Page, name: str) -> None:
    """Save a screenshot under test-artifacts/runtime/ for the docs and for reviewing a failure."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def flush(page: Page) -> None:
    """Make the runtime send its queued events now."""
    await page.evaluate("() => window.Guidegate.flush()")


async def bounds(locator: Locator) -> FloatRect:
    """Return the element's box in the viewport; fail when it is not rendered."""
    box = await locator.bounding_box()
    assert box is not None, f"{locator} has no box"
    return box
