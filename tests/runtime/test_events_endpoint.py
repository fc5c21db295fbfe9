"""The browser event endpoint: validation with messages that name the field, body limits, same-origin checks, rate limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from proxy.events.model import Event
from proxy.runtime import MemoryStateStore, RequestContext, RuntimeEndpoints
from proxy.runtime.browser_events import BROWSER_KINDS, FIELDS, TRIGGERS

from .site import serve_endpoints

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = 1_700_000_000.0
KINDS_TEXT = ", ".join(BROWSER_KINDS)
FIELDS_TEXT = ", ".join(FIELDS)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Server:
    url: str
    submitted: list[Event] = field(default_factory=list)
    accept: bool = True
    monotonic: Clock = field(default_factory=lambda: Clock(100.0))

    async def post(self, body: Any, *, raw: bytes | None = None, headers: dict[str, str] | None = None, visitor: str = "v1") -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", "X-Visitor": visitor, **(headers or {})}
        async with aiohttp.ClientSession() as client:
            async with client.post(f"{self.url}events?app=erp", data=data, headers=sent) as response:
                return response.status, dict(response.headers), await response.json(content_type=None)


def resolve(request: web.Request) -> RequestContext:
    return RequestContext(app="erp", visitor=request.headers.get("X-Visitor", "v1"), roles=frozenset({"clerk"}), session="s1")


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[Server]:
    state: Server | None = None

    def submit(event: Event) -> bool:
        assert state is not None
        state.submitted.append(event)
        return state.accept

    monotonic = Clock(100.0)
    endpoints = RuntimeEndpoints(
        "/__guidegate/", resolve=resolve, page_config=lambda context, url, frame: {"guides": []}, submit=submit,
        state=MemoryStateStore(), is_admin=lambda request: False, event_capacity=50, event_rate=0.5,
        clock=Clock(NOW), monotonic=monotonic,
    )
    url, runner = await serve_endpoints(endpoints)
    state = Server(url, monotonic=monotonic)
    yield state
    await runner.cleanup()


def shown(**fields: Any) -> dict[str, Any]:
    return {"kind": "guide_shown", "guide": "po-walk", **fields}


async def test_events_accepted(server: Server) -> None:
    batch = {"events": [
        shown(age=1500, page="/po/new", locale="de", revision="abc123", trigger="automatic"),
        {"kind": "guide_step_viewed", "guide": "po-walk", "step": 2, "frame": "content"},
        {"kind": "target_missing", "guide": "po-walk", "step": 3, "selector": "#vendor, input[name=vendor]"},
        {"kind": "search", "query": "vat"},
        {"kind": "help_requested"},
    ]}
    status, headers, body = await server.post(batch)

    assert (status, body) == (202, {"accepted": 5, "dropped": 0})
    assert headers["Cache-Control"] == "private, no-store"
    common: dict[str, Any] = {"app": "erp", "visitor": "v1", "session": "s1", "roles": ("clerk",)}
    assert server.submitted == [
        Event(time=NOW - 1.5, kind="guide_shown", name="po-walk", **common,
              detail={"page": "/po/new", "locale": "de", "revision": "abc123", "trigger": "automatic"}),
        Event(time=NOW, kind="guide_step_viewed", name="po-walk", step="2", **common, detail={"frame": "content"}),
        Event(time=NOW, kind="target_missing", name="po-walk", step="3", **common, detail={"selector": "#vendor, input[name=vendor]"}),
        Event(time=NOW, kind="search", **common, detail={"query": "vat"}),
        Event(time=NOW, kind="help_requested", **common),
    ]
    assert [event.detail_json for event in server.submitted][:1] == [
        '{"locale":"de","page":"/po/new","revision":"abc123","trigger":"automatic"}'
    ]


async def test_events_dropped_counted(server: Server) -> None:
    server.accept = False
    status, _, body = await server.post({"events": [shown(), shown()]})

    assert (status, body) == (202, {"accepted": 0, "dropped": 2})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param([], "body: expected a JSON object, not an array", id="array"),
        pytest.param({}, "body.events: missing; expected an array of events", id="no-events"),
        pytest.param({"events": {}}, "body.events: expected an array of events", id="events-object"),
        pytest.param({"events": []}, "body.events: empty; expected 1 to 50 events", id="empty"),
        pytest.param({"events": [shown()] * 51}, "body.events: 51 events; expected at most 50 per batch", id="too-many"),
        pytest.param({"events": [shown()], "extra": 1}, "body.extra: unknown field; expected one of events", id="extra-key"),
        pytest.param({"events": ["x"]}, "events[0]: expected a JSON object, not a string", id="event-string"),
        pytest.param({"events": [{"guide": "g"}]}, f"events[0].kind: missing; expected one of {KINDS_TEXT}", id="no-kind"),
        pytest.param({"events": [shown(), {"kind": "hack"}]}, f"events[1].kind: unknown value 'hack'; expected one of {KINDS_TEXT}", id="bad-kind"),
        pytest.param({"events": [{"kind": "workflow_step"}]}, f"events[0].kind: unknown value 'workflow_step'; expected one of {KINDS_TEXT}", id="proxy-kind"),
        pytest.param({"events": [{"kind": 3}]}, f"events[0].kind: unknown value a number; expected one of {KINDS_TEXT}", id="kind-number"),
        pytest.param({"events": [shown(colour="red")]}, f"events[0].colour: unknown field; expected one of {FIELDS_TEXT}", id="unknown-field"),
        pytest.param({"events": [{"kind": "guide_shown"}]}, "events[0].guide: missing; expected a string", id="no-guide"),
        pytest.param({"events": [shown(guide="bad id")]}, "events[0].guide: invalid guide id; expected letters, digits, '_', '.' or '-'", id="bad-guide"),
        pytest.param({"events": [shown(guide="g" * 65)]}, "events[0].guide: 65 characters long; expected at most 64", id="long-guide"),
        pytest.param({"events": [{"kind": "guide_step_viewed", "guide": "g"}]}, "events[0].step: missing; expected an integer", id="no-step"),
        pytest.param({"events": [shown(step="2")]}, "events[0].step: expected an integer, not a string", id="step-string"),
        pytest.param({"events": [shown(step=True)]}, "events[0].step: expected an integer, not a boolean", id="step-boolean"),
        pytest.param({"events": [shown(step=0)]}, "events[0].step: 0 is out of range; expected 1 to 1000", id="step-zero"),
        pytest.param({"events": [shown(age=-1)]}, "events[0].age: -1 is out of range; expected 0 to 86400000", id="negative-age"),
        pytest.param({"events": [shown(age=1.5)]}, "events[0].age: expected an integer, not a number", id="age-float"),
        pytest.param({"events": [{"kind": "search", "query": "q" * 101}]}, "events[0].query: 101 characters long; expected at most 100", id="long-query"),
        pytest.param({"events": [{"kind": "search"}]}, "events[0].query: missing; expected a string", id="no-query"),
        pytest.param({"events": [{"kind": "target_missing", "guide": "g"}]}, "events[0].selector: missing; expected a string", id="no-selector"),
        pytest.param({"events": [shown(page="po/new")]}, "events[0].page: expected a path that starts with '/'", id="relative-page"),
        pytest.param({"events": [shown(page="/po\nnew")]}, "events[0].page: contains a control character; expected printable text", id="control-character"),
        pytest.param({"events": [shown(page="/" + "p" * 512)]}, "events[0].page: 513 characters long; expected at most 512", id="long-page"),
        pytest.param({"events": [shown(locale="english!")]}, "events[0].locale: invalid locale tag; expected one such as 'en' or 'pt-BR'", id="bad-locale"),
        pytest.param({"events": [shown(trigger="robot")]}, f"events[0].trigger: unknown value 'robot'; expected one of {', '.join(TRIGGERS)}", id="bad-trigger"),
    ],
)
async def test_events_rejected(server: Server, body: Any, message: str) -> None:
    status, headers, answer = await server.post(body)

    assert (status, answer) == (400, {"error": message})
    assert headers["Cache-Control"] == "private, no-store"
    assert server.submitted == []


@pytest.mark.parametrize(
    ("raw", "headers", "status", "message"),
    [
        pytest.param(b"{", {}, 400, "body is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); expected a JSON object", id="broken-json"),
        pytest.param(b'{"events": "\xff"}', {}, 400, "body is not valid UTF-8; expected a JSON object", id="not-utf8"),
        pytest.param(b"x" * 16385, {}, 413, "request body is larger than 16384 bytes; send smaller batches", id="too-large"),
        pytest.param(b"events=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported Content-Type 'application/x-www-form-urlencoded'; expected application/json", id="form"),
        pytest.param(b'{"events": [{"kind": "help_opened"}]}', {"Sec-Fetch-Site": "cross-site"}, 403, "request from another site rejected (Sec-Fetch-Site: cross-site); post from the page's own origin", id="cross-site"),
        pytest.param(b'{"events": [{"kind": "help_opened"}]}', {"Origin": "http://other.test"}, 403, "request from origin http://other.test rejected; post from the page's own origin", id="other-origin"),
        pytest.param(b'{"events": [{"kind": "help_opened"}]}', {"Origin": "null"}, 403, "request from origin null rejected; post from the page's own origin", id="null-origin"),
    ],
)
async def test_events_raw_rejected(server: Server, raw: bytes, headers: dict[str, str], status: int, message: str) -> None:
    got, _, answer = await server.post(None, raw=raw, headers=headers)

    assert (got, answer) == (status, {"error": message})
    assert server.submitted == []


async def test_events_text_plain_from_beacon(server: Server) -> None:
    status, _, body = await server.post(None, raw=b'{"events": [{"kind": "help_opened"}]}', headers={"Content-Type": "text/plain;charset=UTF-8", "Sec-Fetch-Site": "same-origin"})

    assert (status, body) == (202, {"accepted": 1, "dropped": 0})


async def test_events_chunked_too_large(server: Server) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 1024

    async with aiohttp.ClientSession() as client:
        async with client.post(f"{server.url}events?app=erp", data=chunks(), headers={"Content-Type": "application/json"}) as response:
            assert response.status == 413
            assert await response.json() == {"error": "request body is larger than 16384 bytes; send smaller batches"}


async def test_events_method_not_allowed(server: Server) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{server.url}events?app=erp") as response:
            assert response.status == 405
            assert response.headers["Allow"] == "POST"
            assert await response.json() == {"error": "method GET is not allowed here; expected POST"}


async def test_events_rate_limited(server: Server) -> None:
    full = await server.post({"events": [shown()] * 50})
    limited = await server.post({"events": [shown()]})
    other_visitor = await server.post({"events": [shown()]}, visitor="v2")
    server.monotonic.now += 2.0
    refilled = await server.post({"events": [shown()]})

    assert (full[0], full[2]) == (202, {"accepted": 50, "dropped": 0})
    assert (limited[0], limited[2]) == (429, {"error": "too many events from this visitor; retry after 2 s"})
    assert limited[1]["Retry-After"] == "2"
    assert other_visitor[0] == 202
    assert refilled[0] == 202
    assert len(server.submitted) == 52
