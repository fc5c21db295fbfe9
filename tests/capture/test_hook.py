"""Workflow capture through the proxy: steps, outcomes from redirects and body markers, exclusions, features, privacy."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import hmac
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from conftest import Running, StartProxy, StartUpstream, free_port
from proxy.events import Event

from .site import RULES, LocationStyle, ProcurementSite

SECRET = "0123456789abcdef0123456789abcdef"
ALICE = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "clerk,emea"}
ROLES = ("clerk", "emea")

EventRow = tuple[str, str | None, str | None, str | None, int | None, tuple[str, ...], str | None]


def user_visitor(user: str) -> str:
    """The visitor id of a known user, computed independently of the proxy: 'u-' and HMAC-SHA256."""
    return "u-" + hmac.new(SECRET.encode(), b"user\x00" + user.encode(), hashlib.sha256).hexdigest()[:32]


def cookie_visitor(value: str) -> str:
    return "c-" + hmac.new(SECRET.encode(), b"cookie\x00" + value.encode(), hashlib.sha256).hexdigest()[:32]


def config_text(upstream: str, *, identity: str = "{sources: [headers], keep_unmapped_groups: true}") -> str:
    return f"""
trusted_proxies: [127.0.0.1/32]
visitor: {{secret: "{SECRET}"}}
storage: {{path: events.sqlite3, flush_interval: 20ms}}
apps:
  - name: erp
    upstream: {upstream}
    path_prefix: /erp/
    rules: [rules.yaml]
    identity: {identity}
"""


Start = Callable[..., Awaitable[tuple[Running, ProcurementSite]]]


@pytest.fixture
def start(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> Start:
    """Start the procurement site and a proxy in front of it, mounted at /erp/, with the given rules."""

    async def started(rules: str = RULES, location_style: LocationStyle = "absolute-path") -> tuple[Running, ProcurementSite]:
        site = ProcurementSite(location_style=location_style)
        upstream = await start_upstream(site.application())
        site.origin = upstream.url
        (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
        proxy = await start_proxy(config_text(f"{upstream.url}/legacy/"))
        return proxy, site

    return started


async def stored(proxy: Running) -> list[Event]:
    """Every event of app erp once classification and the writer are done with what was captured."""
    gateway = proxy.gateway
    await gateway.capture.drain(timeout=5)
    assert await gateway.writer.flush(timeout=5)
    for _ in range(500):
        if gateway.writer.stats().store_available:
            break
        await asyncio.sleep(0.01)
    return await gateway.store.read_events("erp", 0, time.time() + 60)


def rows(events: list[Event]) -> list[EventRow]:
    return [(e.kind, e.name, e.step, e.outcome, e.status, e.roles, e.detail_json) for e in events]


SUBMIT_DETAIL = '{"fields":["vendor","currency","note"],"values":{"currency":"EUR"}}'


async def test_workflow_recorded(start: Start, tmp_path: Path) -> None:
    proxy, site = await start()
    statuses = []
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        requests = [
            ("GET", "/erp/po/new", None),
            ("POST", "/erp/po/new", {"vendor": "", "currency": "EUR", "note": "call Bob on 555-0100"}),
            ("POST", "/erp/po/new", {"vendor": "Acme Private Ltd", "currency": "EUR", "note": "call Bob on 555-0100"}),
            ("GET", "/erp/po/7", None),
            ("GET", "/erp/po/export?format=csv", None),
            ("GET", "/erp/po/export?format=pdf", None),
            ("POST", "/erp/po/new", {"vendor": "Acme Private Ltd"}),
            ("GET", "/erp/po/new/cancel", None),
        ]
        for method, path, form in requests:
            async with client.request(method, path, data=form, allow_redirects=False) as response:
                await response.read()
                statuses.append(response.status)

    events = await stored(proxy)

    assert statuses == [200, 200, 302, 200, 200, 200, 302, 302]
    assert len(site.received) == 8
    assert rows(events) == [
        ("workflow_step", "raise-po", "open", "success", 200, ROLES, None),
        ("workflow_step", "raise-po", "submit", "failure", 200, ROLES, SUBMIT_DETAIL),
        ("workflow_step", "raise-po", "submit", "success", 302, ROLES, SUBMIT_DETAIL),
        ("workflow_step", "raise-po", "confirm", "success", 200, ROLES, '{"params":{"id":"7"}}'),
        ("feature", "po-export", None, "success", 200, ROLES, None),
        ("workflow_step", "raise-po", "cancel", "abandon", 302, ROLES, None),
    ]
    assert {event.visitor for event in events} == {user_visitor("alice")}
    assert [event.session for event in events] == [None] * 6
    # The confirm step, the last of raise-po, succeeded, so a checklist item for raise-po is ticked.
    assert proxy.gateway.completions.completed("erp", user_visitor("alice")) == frozenset({"raise-po"})
    assert all(event.duration is not None and 0 <= event.duration < 5000 for event in events)
    for path in tmp_path.glob("events.sqlite3*"):
        data = path.read_bytes()
        for secret in (b"555-0100", b"Acme Private", b"alice"):
            assert secret not in data, (path.name, secret)


async def test_gzip_body_markers(start: Start) -> None:
    proxy, _ = await start()
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        for number in ("abc", "42"):
            async with client.post("/erp/invoices/new", data={"invoice_no": number}) as response:
                text = await response.text()
                assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Invoice booked as 42" in text

    events = await stored(proxy)

    assert rows(events) == [
        ("workflow_step", "book-invoice", "post", "failure", 200, ROLES, '{"fields":["invoice_no"]}'),
        ("workflow_step", "book-invoice", "post", "success", 200, ROLES, '{"fields":["invoice_no"]}'),
    ]


@pytest.mark.parametrize("style", ["absolute-url", "absolute-path", "relative"])
async def test_redirect_target_forms(start: Start, style: LocationStyle) -> None:
    proxy, _ = await start(location_style=style)
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        async with client.post("/erp/po/new", data={"vendor": "Acme", "currency": "USD"}, allow_redirects=False) as response:
            location = response.headers["Location"]

    events = await stored(proxy)

    assert location == {"absolute-url": f"{proxy.url}/erp/po/7", "absolute-path": "/erp/po/7", "relative": "7"}[style]
    assert [(event.step, event.outcome) for event in events] == [("submit", "success")]


async def test_redirect_case_insensitive(start: Start) -> None:
    rules = "case_sensitive: false\n" + RULES.replace('redirect: "/po/{id:int}"', 'redirect: "/PO/{id:int}"')
    proxy, _ = await start(rules=rules)
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        async with client.post("/erp/po/new", data={"vendor": "Acme", "currency": "USD"}, allow_redirects=False) as response:
            location = response.headers["Location"]

    events = await stored(proxy)

    assert location == "/erp/po/7"
    assert [(event.step, event.outcome) for event in events] == [("submit", "success")]


async def test_multipart_and_json_bodies(start: Start) -> None:
    proxy, _ = await start()
    upload = aiohttp.FormData()
    upload.add_field("vendor", "Acme")
    upload.add_field("currency", "CHF")
    upload.add_field("quote", b"%PDF-1.4 binary", filename="quote.pdf", content_type="application/pdf")
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        async with client.post("/erp/po/new", data=upload, allow_redirects=False) as response:
            assert response.status == 302
        # The site reads form bodies only, so a JSON body shows the form again with errors.
        async with client.post("/erp/po/new", json={"vendor": "Acme", "currency": "JPY"}, allow_redirects=False) as response:
            assert response.status == 200

    events = await stored(proxy)

    assert rows(events) == [
        ("workflow_step", "raise-po", "submit", "success", 302, ROLES, '{"fields":["vendor","currency","quote"],"values":{"currency":"CHF"}}'),
        ("workflow_step", "raise-po", "submit", "failure", 200, ROLES, '{"fields":["vendor","currency"],"values":{"currency":"JPY"}}'),
    ]


async def test_audience_filters_events(start: Start) -> None:
    rules = RULES.replace("    window: 30m\n", "    window: 30m\n    audience: buyer\n", 1)
    proxy, _ = await start(rules=rules)
    for groups in ("clerk", "buyer"):
        async with aiohttp.ClientSession(proxy.url, headers={"X-Forwarded-User": groups, "X-Forwarded-Groups": groups}) as client:
            async with client.get("/erp/po/new") as response:
                await response.read()

    events = await stored(proxy)

    assert [(event.step, event.roles, event.visitor) for event in events] == [("open", ("buyer",), user_visitor("buyer"))]


async def test_anonymous_visitor_cookie(start: Start) -> None:
    proxy, _ = await start()
    async with aiohttp.ClientSession(proxy.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get("/erp/po/new") as first:
            cookie = first.headers["Set-Cookie"]
        async with client.get("/erp/po/new") as second:
            repeated = second.headers.getall("Set-Cookie", [])
        async with client.get("/erp/echo") as echo:
            received = await echo.json()

    events = await stored(proxy)
    value = cookie.split(";", 1)[0].split("=", 1)[1]

    assert repeated == []
    assert received["cookies"] == {}
    assert [(event.step, event.roles) for event in events] == [("open", ()), ("open", ())]
    assert {event.visitor for event in events} == {cookie_visitor(value)}


async def test_upstream_down_is_error(tmp_path: Path, start_proxy: StartProxy) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    proxy = await start_proxy(config_text(f"http://127.0.0.1:{free_port()}/legacy/"))
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        async with client.post("/erp/po/new", data={"vendor": "Acme", "currency": "EUR"}) as response:
            assert response.status == 502

    events = await stored(proxy)

    assert rows(events) == [
        ("workflow_step", "raise-po", "submit", "error", None, ROLES, '{"proxy_status":502}'),
    ]


async def test_shutdown_keeps_classified_events(start: Start, tmp_path: Path) -> None:
    proxy, _ = await start()
    async with aiohttp.ClientSession(proxy.url, headers=ALICE) as client:
        for vendor in ("", "Acme"):
            async with client.post("/erp/po/new", data={"vendor": vendor, "currency": "EUR"}, allow_redirects=False) as response:
                await response.read()
        async with client.get("/erp/po/7") as response:
            await response.read()

    # Stopping right after the responses: the body-marker classifications may still be running.
    await proxy.runner.cleanup()

    with sqlite3.connect(tmp_path / "events.sqlite3") as database:
        stored = database.execute("SELECT step, outcome FROM events ORDER BY time").fetchall()
    assert stored == [("submit", "failure"), ("submit", "success"), ("confirm", "success")]
