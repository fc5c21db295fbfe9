"""Helpers for the demo app tests: one request without redirects, and the forms of the happy path."""

from __future__ import annotations

import re

import aiohttp

VALID_VENDOR = {"name": "Łódź Papier Sp. z o.o.", "tax_id": "PL123456789", "email": "biuro@lodz-papier.example"}
VALID_ORDER = {
    "vendor": "1",
    "description": "Toner cartridges",
    "quantity": "12",
    "unit_price": "49.90",
    "cost_center": "4711",
    "delivery_date": "2099-12-31",
}


async def fetch(
    session: aiohttp.ClientSession, method: str, path: str, data: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Send one request without following redirects; return status, Location and body text.

    A body whose Content-Type names no charset is decoded as windows-1252, because the one page
    sent that way (the vendor list) declares windows-1252 in its META tag.
    """
    async with session.request(method, path, data=data, allow_redirects=False) as response:
        body = await response.read()
        text = body.decode(response.charset or "windows-1252")
        return response.status, response.headers.get("Location", ""), text


def cell(page: str, cell_id: str) -> str:
    """Return the content of the element with ID `cell_id` (upper-case tag, no nesting of the same tag)."""
    match = re.search(rf'<(\w+)[^>]* ID="{cell_id}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    if match is None:
        raise AssertionError(f"no element with ID {cell_id} in the page")
    return match.group(2)


def errors(page: str) -> list[str]:
    """Return the texts of the error messages in a page, in order."""
    return re.findall(r'<FONT COLOR="red" CLASS="error" ID="error_\w+">(.*?)</FONT>', page)
