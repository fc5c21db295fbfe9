"""The config and state endpoints, the in-memory state store and the token buckets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from proxy.runtime import GuideState, MemoryStateStore, RequestContext, RuntimeEndpoints, StateChange
from proxy.runtime.ratelimit import TokenBuckets, retry_after_seconds

from .site import serve_endpoints

ON_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")

GUIDE = {"id": "po-walk", "kind": "walkthrough", "steps": []}


@dataclass
class Server:
    url: str
    store: MemoryStateStore
    seen: list[tuple[str, str]]

    async def request(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Mapping[str, str], Any]:
        async with aiohttp.ClientSession() as client:
            data = None if body is None else json.dumps(body)
            sent = {"Content-Type": "application/json", **headers}
            async with client.request(method, self.url + path, data=data, headers=sent) as response:
                return response.status, response.headers.copy(), await response.json(content_type=None)


def resolve(request: web.Request) -> RequestContext:
    new = "X-New" in request.headers
    return RequestContext(app="erp", visitor="v1", roles=frozenset({"clerk"}), set_cookie="gg=1; Path=/" if new else None)


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[Server]:
    store = MemoryStateStore(clock=lambda: 1_700_000_000.0)
    seen: list[tuple[str, str]] = []

    def page_config(context: RequestContext, url: str, frame: str) -> dict[str, Any]:
        seen.append((url, frame))
        if url == "/broken":
            raise KeyError("rule set bug")
        return {"version": 1, "app": context.app, "path": url, "guides": [GUIDE]}

    def preview(context: RequestContext, guide: str) -> dict[str, Any] | None:
        return {"id": guide, "kind": "announcement"} if guide == "secret" else None

    endpoints = RuntimeEndpoints(
        "/__guidegate/", resolve=resolve, page_config=page_config, preview_guide=preview, submit=lambda event: True,
        state=store, is_admin=lambda request: "X-Admin" in request.headers, check_client_time=True,
    )
    url, runner = await serve_endpoints(endpoints)
    yield Server(url, store, seen)
    await runner.cleanup()


@ON_SESSION_LOOP
async def test_config_with_state(server: Server) -> None:
    await server.store.apply("erp", "v1", "po-walk", StateChange(seq=3, step=1, status="active"))
    await server.store.apply("erp", "v1", "other", StateChange(seq=1, status="completed"))

    status, headers, body = await server.request("GET", "config?app=erp&url=/po/new%3Fid%3D3&frame=content", **{"X-New": "1"})

    assert status == 200
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["Set-Cookie"] == "gg=1; Path=/"
    assert server.seen[-1] == ("/po/new?id=3", "content")
    assert body == {
        "version": 1, "app": "erp", "path": "/po/new?id=3", "guides": [GUIDE],
        "state": {"po-walk": {"step": 1, "status": "active", "shown": 0, "dismissed": False, "seq": 3, "updated": 1_700_000_000.0}},
        "admin": False, "preview": None, "check_client_time": True, "runtime": body["runtime"],
    }


@ON_SESSION_LOOP
@pytest.mark.parametrize(
    ("query", "admin", "status", "expected"),
    [
        pytest.param("&preview=secret", True, 200, {"id": "secret", "kind": "announcement"}, id="admin"),
        pytest.param("&preview=secret", False, 200, None, id="not-admin"),
        pytest.param("&preview=nope", True, 404, "preview: app erp has no guide 'nope'", id="unknown-guide"),
        pytest.param("&preview=a%20b", True, 400, "preview: invalid guide id; expected letters, digits, '_', '.' or '-'", id="bad-id"),
    ],
)
async def test_config_preview(server: Server, query: str, admin: bool, status: int, expected: Any) -> None:
    headers = {"X-Admin": "1"} if admin else {}
    got, _, body = await server.request("GET", f"config?app=erp&url=/po/new{query}", **headers)

    assert got == status
    if status == 200:
        assert (body["admin"], body["preview"]) == (admin, expected)
    else:
        assert body == {"error": expected}


@ON_SESSION_LOOP
@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        pytest.param("", 400, "url: missing; expected the page's path and query, such as /po/new?id=3", id="no-url"),
        pytest.param("&url=http://other.test/po", 400, "url: expected a path that starts with '/', at most 2048 characters", id="absolute"),
        pytest.param("&url=//other.test/po", 400, "url: expected a path that starts with '/', at most 2048 characters", id="scheme-relative"),
        pytest.param("&url=/" + "a" * 2048, 400, "url: expected a path that starts with '/', at most 2048 characters", id="long"),
        pytest.param("&url=/po&frame=" + "f" * 201, 400, "frame: expected a window name of at most 200 printable characters", id="long-frame"),
        pytest.param("&url=/broken", 500, "the page config could not be built; see the Guidegate log", id="broken-rules"),
    ],
)
async def test_config_rejects(server: Server, query: str, status: int, message: str) -> None:
    got, _, body = await server.request("GET", f"config?app=erp{query}")

    assert (got, body) == (status, {"error": message})


@ON_SESSION_LOOP
async def test_state_post_and_get(server: Server) -> None:
    first = await server.request("POST", "state?app=erp", {"guide": "tour", "seq": 1, "step": 0, "status": "active", "shown": True})
    second = await server.request("POST", "state?app=erp", {"guide": "tour", "seq": 2, "step": 2})
    stale = await server.request("POST", "state?app=erp", {"guide": "tour", "seq": 1, "step": 1, "dismissed": True})
    listed = await server.request("GET", "state?app=erp&guide=tour")

    expected = {"step": 2, "status": "active", "shown": 1, "dismissed": False, "seq": 2, "updated": 1_700_000_000.0}
    assert (first[0], first[2]["state"]["shown"]) == (200, 1)
    assert second[2] == {"guide": "tour", "state": expected}
    assert stale[2] == {"guide": "tour", "state": expected}
    assert listed[2] == {"state": {"tour": expected}}


@ON_SESSION_LOOP
@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"seq": 1}, "body.guide: missing; expected a string", id="no-guide"),
        pytest.param({"guide": "a b", "seq": 1}, "body.guide: invalid guide id; expected letters, digits, '_', '.' or '-'", id="bad-guide"),
        pytest.param({"guide": "g"}, "body.seq: missing; expected an integer", id="no-seq"),
        pytest.param({"guide": "g", "seq": 1, "status": "paused"}, "body.status: unknown value 'paused'; expected one of new, active, completed, ended", id="bad-status"),
        pytest.param({"guide": "g", "seq": 1, "step": 1000}, "body.step: 1000 is out of range; expected 0 to 999", id="step-range"),
        pytest.param({"guide": "g", "seq": 1, "dismissed": "yes"}, "body.dismissed: expected true or false", id="dismissed-string"),
        pytest.param({"guide": "g", "seq": 1, "colour": 1}, "body.colour: unknown field; expected one of guide, seq, step, status, dismissed, shown", id="unknown-field"),
    ],
)
async def test_state_rejects(server: Server, body: Any, message: str) -> None:
    status, _, answer = await server.request("POST", "state?app=erp", body)

    assert (status, answer) == (400, {"error": message})


@ON_SESSION_LOOP
async def test_state_cross_site_rejected(server: Server) -> None:
    status, _, answer = await server.request("POST", "state?app=erp", {"guide": "g", "seq": 1}, **{"Sec-Fetch-Site": "same-site"})

    assert (status, answer) == (403, {"error": "request from another site rejected (Sec-Fetch-Site: same-site); post from the page's own origin"})


@ON_SESSION_LOOP
async def test_memory_store_bounds() -> None:
    store = MemoryStateStore(max_visitors=2, max_guides=2, clock=lambda: 5.0)
    for visitor in ("a", "b"):
        await store.apply("erp", visitor, "g1", StateChange(seq=1, status="active"))
    await store.load("erp", "a")
    await store.apply("erp", "c", "g1", StateChange(seq=1))
    for guide in ("g1", "g2", "g3"):
        await store.apply("erp", "a", guide, StateChange(seq=1, shown=True))

    assert len(store) == 2
    assert await store.load("erp", "b") == {}
    assert await store.load("erp", "a") == {
        "g2": GuideState(shown=1, seq=1, updated=5.0),
        "g3": GuideState(shown=1, seq=1, updated=5.0),
    }
    assert await store.load("erp", "a", ["g3", "g9"]) == {"g3": GuideState(shown=1, seq=1, updated=5.0)}


def test_state_change_ordering() -> None:
    state = GuideState(step=2, status="active", shown=3, seq=5)

    assert StateChange(seq=4, step=0).applied_to(state, 9.0) is state
    assert StateChange(seq=5, dismissed=True, shown=True).applied_to(state, 9.0) == GuideState(
        step=2, status="active", shown=4, dismissed=True, seq=5, updated=9.0
    )


@pytest.mark.parametrize(
    ("takes", "expected"),
    [
        pytest.param([(0.0, 10)], [0.0], id="within-capacity"),
        pytest.param([(0.0, 10), (0.0, 1)], [0.0, 0.5], id="empty-bucket"),
        pytest.param([(0.0, 10), (1.0, 2)], [0.0, 0.0], id="refilled"),
        pytest.param([(0.0, 25)], [0.0], id="more-than-capacity-takes-all"),
        pytest.param([(0.0, 6), (0.0, 6)], [0.0, 1.0], id="partial"),
    ],
)
def test_token_buckets(takes: list[tuple[float, float]], expected: list[float]) -> None:
    now = [0.0]
    buckets = TokenBuckets(capacity=10, rate=2, clock=lambda: now[0])
    waits = []
    for moment, tokens in takes:
        now[0] = moment
        waits.append(buckets.take("v", tokens))

    assert waits == expected


def test_token_buckets_forget_oldest() -> None:
    buckets = TokenBuckets(capacity=1, rate=1, max_keys=2, clock=lambda: 0.0)
    for key in ("a", "b", "c"):
        buckets.take(key, 1)

    assert buckets.take("a", 1) == 0.0
    assert buckets.take("c", 1) == 1.0


@pytest.mark.parametrize(("wait", "header"), [pytest.param(0.01, 1, id="tiny"), pytest.param(1.0, 1, id="one"), pytest.param(1.2, 2, id="rounds-up")])
def test_retry_after_seconds(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header
