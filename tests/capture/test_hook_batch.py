"""Capture records the exchanges that ended together, at the event loop's next turn, with each one's own end time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from conftest import Running, StartProxy, StartUpstream
from proxy.capture.hook import Capture
from proxy.events.model import Entry
from proxy.forward import Exchange
from tests.capture.test_hook_cache import RULES, config_text, page

DURATION = 10
"""Index of the duration in milliseconds in a stored row (see proxy.events.model.Record)."""


async def ended_exchange(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> tuple[Running, Exchange, list[Entry]]:
    """Send one workflow step through a proxy and return the proxy, the step's exchange and a list.

    From then on, capture submits to that list instead of the writer.
    """
    application = web.Application()
    application.router.add_get("/page", page)
    upstream = await start_upstream(application)
    (tmp_path / "rules.yaml").write_text(RULES.format(workflow="fetch"), encoding="utf-8")
    proxy = await start_proxy(config_text(upstream.url + "/"))
    capture = proxy.gateway.capture
    exchanges: list[Exchange] = []
    original = capture.on_complete

    def keep(exchange: Exchange, status: int) -> None:
        exchanges.append(exchange)
        original(exchange, status)

    capture.on_complete = keep  # type: ignore[method-assign]
    async with aiohttp.ClientSession(proxy.url) as client:
        async with client.get("/page") as response:
            assert response.status == 200
    await capture.drain(timeout=5)
    del capture.on_complete  # the class's method again

    submitted: list[Entry] = []

    def submit(entry: Entry) -> bool:
        submitted.append(entry)
        return True

    capture._submit = submit
    return proxy, exchanges[0], submitted


async def test_recorded_at_next_turn(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    proxy, exchange, submitted = await ended_exchange(tmp_path, start_upstream, start_proxy)
    capture: Capture = proxy.gateway.capture

    capture.on_complete(exchange, 200)
    capture.on_complete(exchange, 200)

    assert submitted == []
    await asyncio.sleep(0)
    assert [(row[5], row[6], row[7], row[8]) for row in submitted] == [("workflow_step", "fetch", "fetch", "success")] * 2


async def test_drain_records_ended(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    proxy, exchange, submitted = await ended_exchange(tmp_path, start_upstream, start_proxy)
    capture: Capture = proxy.gateway.capture

    capture.on_complete(exchange, 200)
    assert await capture.drain(timeout=1)

    assert len(submitted) == 1


async def test_duration_ends_at_completion(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    proxy, exchange, submitted = await ended_exchange(tmp_path, start_upstream, start_proxy)
    capture: Capture = proxy.gateway.capture
    exchange.upstream_started = time.perf_counter() - 0.05

    capture.on_complete(exchange, 200)
    time.sleep(0.2)  # the loop is blocked, so the exchange is recorded well after it ended
    await asyncio.sleep(0)

    assert len(submitted) == 1
    assert 50 <= submitted[0][DURATION] < 150


async def test_recorded_at_once_without_loop(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    proxy, exchange, submitted = await ended_exchange(tmp_path, start_upstream, start_proxy)
    capture: Capture = proxy.gateway.capture

    await asyncio.to_thread(capture.on_complete, exchange, 200)

    assert len(submitted) == 1
    assert capture._ended == []
