"""Checks shared by the runtime's POST endpoints: same-origin requests, bounded JSON bodies, typed fields."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from proxy.runtime.context import RuntimeRequestError

JSON_TYPES = ("application/json", "text/plain")
"""Body types accepted. `text/plain` is what navigator.sendBeacon sends for a string body."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_same_origin(request: web.Request) -> None:
    """Reject a request that a browser marks as sent from another site.

    Browsers send `Sec-Fetch-Site` and, on POST, `Origin`. Without this check a form or script on
    another site could post with the user's cookies, because `text/plain` bodies need no CORS
    preflight. Clients that send neither header (scripts, tests) are let through.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        raise RuntimeRequestError(403, f"request from another site rejected (Sec-Fetch-Site: {site}); post from the page's own origin")
    origin = request.headers.get("Origin")
    if origin is not None:
        host = urlsplit(origin).netloc if origin != "null" else "null"
        if host.lower() != request.host.lower():
            raise RuntimeRequestError(403, f"request from origin {origin} rejected; post from the page's own origin")


async def read_json(request: web.Request, max_bytes: int) -> Any:
    """Read a JSON body of at most `max_bytes`; raise RuntimeRequestError 413, 415 or 400."""
    too_large = f"request body is larger than {max_bytes} bytes; send smaller batches"
    if request.content_length is not None and request.content_length > max_bytes:
        raise RuntimeRequestError(413, too_large)
    if request.content_type not in JSON_TYPES:
        raise RuntimeRequestError(415, f"unsupported Content-Type '{request.content_type}'; expected application/json")
    body = bytearray()
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        body += chunk
        if len(body) > max_bytes:
            raise RuntimeRequestError(413, too_large)
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RuntimeRequestError(400, "body is not valid UTF-8; expected a JSON object") from None
    except ValueError as error:
        raise RuntimeRequestError(400, f"body is not valid JSON ({error}); expected a JSON object") from None


def require_object(value: Any, where: str) -> Mapping[str, Any]:
    """Return `value` if it is a JSON object, else raise a 400 naming `where`."""
    if not isinstance(value, dict):
        raise RuntimeRequestError(400, f"{where}: expected a JSON object, not {json_type(value)}")
    return value


def check_keys(value: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Raise a 400 naming the first key of `value` that is not in `allowed`."""
    for key in value:
        if key not in allowed:
            raise RuntimeRequestError(400, f"{where}.{key}: unknown field; expected one of {', '.join(allowed)}")


def text_field(value: Mapping[str, Any], key: str, where: str, *, max_length: int, required: bool = False) -> str | None:
    """Return a string field of at most `max_length` characters without control characters."""
    item = value.get(key)
    if item is None:
        if required:
            raise RuntimeRequestError(400, f"{where}.{key}: missing; expected a string")
        return None
    if not isinstance(item, str):
        raise RuntimeRequestError(400, f"{where}.{key}: expected a string, not {json_type(item)}")
    if len(item) > max_length:
        raise RuntimeRequestError(400, f"{where}.{key}: {len(item)} characters long; expected at most {max_length}")
    if _CONTROL.search(item):
        raise RuntimeRequestError(400, f"{where}.{key}: contains a control character; expected printable text")
    return item


def int_field(
    value: Mapping[str, Any], key: str, where: str, *, minimum: int, maximum: int, required: bool = False
) -> int | None:
    """Return an integer field within [minimum, maximum]."""
    item = value.get(key)
    if item is None:
        if required:
            raise RuntimeRequestError(400, f"{where}.{key}: missing; expected an integer")
        return None
    if isinstance(item, bool) or not isinstance(item, int):
        raise RuntimeRequestError(400, f"{where}.{key}: expected an integer, not {json_type(item)}")
    if not minimum <= item <= maximum:
        raise RuntimeRequestError(400, f"{where}.{key}: {item} is out of range; expected {minimum} to {maximum}")
    return item


def choice_field(value: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...], *, required: bool = False) -> str | None:
    """Return a string field that must be one of `choices`."""
    item = value.get(key)
    if item is None:
        if required:
            raise RuntimeRequestError(400, f"{where}.{key}: missing; expected one of {', '.join(choices)}")
        return None
    if not isinstance(item, str) or item not in choices:
        shown = repr(item) if isinstance(item, str) else json_type(item)
        raise RuntimeRequestError(400, f"{where}.{key}: unknown value {shown[:80]}; expected one of {', '.join(choices)}")
    return item


def json_type(value: Any) -> str:
    """Name the JSON type of a decoded value for messages: 'a string', 'an array', 'null' and so on."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
