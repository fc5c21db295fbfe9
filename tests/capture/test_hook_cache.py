"""Capture through the proxy while its caches are warm: a rule reload takes effect, each anonymous request gets its own visitor, concurrent requests keep their own fields."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from conftest import Running, StartProxy, StartUpstream
from proxy.events import Event

SECRET = "0123456789abcdef0123456789abcdef"
RULES = """\
workflows:
  - id: {workflow}
    title: Fetch
    steps:
      - {{name: fetch, path: /page, methods: GET}}
"""


def config_text(upstream: str) -> str:
    return f"""
visitor: {{secret: "{SECRET}"}}
storage: {{path: events.sqlite3, flush_interval: 20ms}}
apps:
  - name: erp
    upstream: {upstream}
    rules: [rules.yaml]
"""


async def page(request: web.Request) -> web.Response:
    return web.Response(text="ok", status=int(request.query.get("status", "200")))


async def stored(proxy: Running) -> list[Event]:
    assert await proxy.gateway.writer.flush(timeout=5)
    return await proxy.gateway.store.read_events("erp", 0, time.time() + 60)


async def test_capture_cache_rule_reload(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    application = web.Application()
    application.router.add_get("/page", page)
    upstream = await start_upstream(application)
    (tmp_path / "rules.yaml").write_text(RULES.format(workflow="before"), encoding="utf-8")
    proxy = await start_proxy(config_text(upstream.url + "/"))
    async with aiohttp.ClientSession(proxy.url) as client:
        for _ in range(2):
            async with client.get("/page") as response:
                assert response.status == 200
        (tmp_path / "rules.yaml").write_text(RULES.format(workflow="after"), encoding="utf-8")
        assert proxy.gateway.rules.reload_now()
        async with client.get("/page") as response:
            assert response.status == 200

    events = await stored(proxy)

    assert [event.name for event in events] == ["before", "before", "after"]


async def test_capture_cache_new_visitors(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    application = web.Application()
    application.router.add_get("/page", page)
    upstream = await start_upstream(application)
    (tmp_path / "rules.yaml").write_text(RULES.format(workflow="fetch"), encoding="utf-8")
    proxy = await start_proxy(config_text(upstream.url + "/"))
    cookies = []
    for _ in range(3):
        # A new session each time: no visitor cookie, as a first visit.
        async with aiohttp.ClientSession(proxy.url) as client:
            async with client.get("/page") as response:
                cookies.append(response.cookies["guidegate_vid"].value)
    async with aiohttp.ClientSession(proxy.url, cookies={"guidegate_vid": cookies[0]}) as client:
        for _ in range(2):
            async with client.get("/page") as response:
                assert "guidegate_vid" not in response.cookies

    events = await stored(proxy)

    visitors = [event.visitor for event in events]
    assert len(set(cookies)) == 3
    assert len(set(visitors[:3])) == 3
    assert visitors[3:] == [visitors[0], visitors[0]]


async def test_capture_concurrent_requests(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    application = web.Application()
    application.router.add_get("/page", page)
    upstream = await start_upstream(application)
    (tmp_path / "rules.yaml").write_text(RULES.format(workflow="fetch"), encoding="utf-8")
    proxy = await start_proxy(config_text(upstream.url + "/"))
    cookies = {"a": "A" * 32, "b": "B" * 32}

    async def fetch(client: aiohttp.ClientSession, status: int) -> None:
        async with client.get(f"/page?status={status}") as response:
            assert response.status == status

    async with (
        aiohttp.ClientSession(proxy.url, cookies={"guidegate_vid": cookies["a"]}) as first,
        aiohttp.ClientSession(proxy.url, cookies={"guidegate_vid": cookies["b"]}) as second,
    ):
        # Events of one step are copied from one template; each must keep its own visitor, status and outcome.
        await asyncio.gather(*(fetch(client, status) for client in (first, second) for status in (200, 500) * 10))

    events = await stored(proxy)

    assert len(events) == 40
    assert len({event.visitor for event in events}) == 2
    assert Counter((event.outcome, event.status) for event in events) == {("success", 200): 20, ("failure", 500): 20}
    assert Counter(event.visitor for event in events if event.status == 500) == Counter(
        event.visitor for event in events if event.status == 200
    )
    assert all(event.duration is not None and event.duration >= 0 for event in events)
