"""Guidegate's own routes under the reserved prefix: health, Prometheus metrics and status."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from conftest import Running, StartProxy, StartUpstream, free_port
from proxy import __version__


async def start_web(start_upstream: StartUpstream, seen: list[str]) -> Running:
    async def hello(request: web.Request) -> web.Response:
        seen.append(request.path)
        await request.read()
        return web.Response(text="hello")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", hello)
    return await start_upstream(application)


def two_apps(web_upstream: Running, down_port: int) -> str:
    return f"""
apps:
  - name: web
    upstream: {web_upstream.url}/
  - name: down
    upstream: http://127.0.0.1:{down_port}/
    path_prefix: /down/
"""


async def get_json(url: str) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as client:
        async with client.get(url) as response:
            return response.status, dict(response.headers), json.loads(await response.read())


async def test_healthz_plain(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[str] = []
    upstream = await start_web(start_upstream, seen)
    proxy = await start_proxy(two_apps(upstream, free_port()))

    status, headers, body = await get_json(f"{proxy.url}/__guidegate/healthz")

    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert body == {"status": "ok"}
    assert seen == []


async def test_healthz_upstreams_all_up(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[str] = []
    upstream = await start_web(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: {upstream.url}/\n")

    status, _, body = await get_json(f"{proxy.url}/__guidegate/healthz?check=upstreams")

    assert status == 200
    assert isinstance(body["upstreams"][0].pop("ms"), float)
    assert body == {"status": "ok", "upstreams": [{"app": "web", "ok": True, "status": 200}]}


async def test_healthz_upstream_down_503(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[str] = []
    upstream = await start_web(start_upstream, seen)
    proxy = await start_proxy(two_apps(upstream, free_port()))

    status, _, body = await get_json(f"{proxy.url}/__guidegate/healthz?check=upstreams")

    assert status == 503
    assert isinstance(body["upstreams"][0].pop("ms"), float)
    assert body == {
        "status": "degraded",
        "upstreams": [
            {"app": "web", "ok": True, "status": 200},
            {"app": "down", "ok": False, "error": "ClientConnectorError"},
        ],
    }


async def test_metrics_prometheus_text(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[str] = []
    upstream = await start_web(start_upstream, seen)
    proxy = await start_proxy(two_apps(upstream, free_port()))

    # One client connection for everything, so the open connection gauge reads exactly 1.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as client:
        async with client.get(f"{proxy.url}/page") as response:
            assert await response.read() == b"hello"
        async with client.post(f"{proxy.url}/form", data=b"12345678") as response:
            assert await response.read() == b"hello"
        async with client.get(f"{proxy.url}/down/page") as response:
            assert response.status == 502
        async with client.get(f"{proxy.url}/__guidegate/metrics") as response:
            content_type = response.headers["Content-Type"]
            lines = (await response.read()).decode().splitlines()

    assert content_type == "text/plain; version=1.0.0; charset=utf-8"
    expected = [
        "# TYPE guidegate_requests_total counter",
        'guidegate_requests_total{app="web",status="200"} 2.0',
        'guidegate_requests_total{app="down",status="502"} 1.0',
        "# TYPE guidegate_upstream_errors_total counter",
        'guidegate_upstream_errors_total{app="down",kind="refused"} 1.0',
        "# TYPE guidegate_request_duration_seconds histogram",
        'guidegate_request_duration_seconds_bucket{app="web",le="+Inf"} 2.0',
        'guidegate_request_duration_seconds_count{app="web"} 2.0',
        'guidegate_request_duration_seconds_count{app="down"} 1.0',
        'guidegate_request_bytes_total{app="web"} 8.0',
        'guidegate_response_bytes_total{app="web"} 10.0',
        "guidegate_open_connections 1.0",
    ]
    for line in expected:
        assert line in lines


async def test_status_json(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[str] = []
    upstream = await start_web(start_upstream, seen)
    down_port = free_port()
    proxy = await start_proxy(two_apps(upstream, down_port))

    status, headers, body = await get_json(f"{proxy.url}/__guidegate/status")

    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert isinstance(body.pop("uptime_seconds"), float)
    rules = body.pop("rules")
    assert rules["rules_loaded"] == 0
    assert rules["reload_errors"] == 0
    assert rules["last_errors"] == []
    events = body.pop("events")
    assert events["accepted"] == 0
    assert events["dropped_queue_full"] == 0
    assert body == {
        "version": __version__,
        "apps": [
            {"name": "web", "upstream": f"{upstream.url}/", "path_prefix": "/"},
            {"name": "down", "upstream": f"http://127.0.0.1:{down_port}/", "path_prefix": "/down/"},
        ],
    }


async def test_unknown_reserved_path_404(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[str] = []
    upstream = await start_web(start_upstream, seen)
    proxy = await start_proxy(two_apps(upstream, free_port()))

    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy.url}/__guidegate/nope") as response:
            status, text = response.status, await response.text()

    assert status == 404
    assert text == "No Guidegate resource at /__guidegate/nope.\n"
    assert seen == []


MONITORS_ELSEWHERE = """
admin:
  token: monitor-secret-123
  monitor_networks: [10.255.255.0/24]
apps:
  - name: web
    upstream: {url}/
"""


@pytest.mark.parametrize(
    ("path", "what"),
    [
        pytest.param("metrics", "metrics", id="metrics"),
        pytest.param("status", "status details", id="status"),
    ],
)
async def test_monitor_outside_rejected(start_upstream: StartUpstream, start_proxy: StartProxy, path: str, what: str) -> None:
    upstream = await start_web(start_upstream, [])
    proxy = await start_proxy(MONITORS_ELSEWHERE.format(url=upstream.url))

    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy.url}/__guidegate/{path}") as response:
            status, text = response.status, await response.text()
        async with client.get(f"{proxy.url}/__guidegate/{path}", headers={"Authorization": "Bearer monitor-secret-123"}) as response:
            admin_status = response.status

    assert status == 403
    assert text == (
        f"Guidegate's {what} are served to peers in admin.monitor_networks and to admins; "
        "127.0.0.1 is neither. Add its network to admin.monitor_networks or send the admin token.\n"
    )
    assert admin_status == 200


async def test_healthz_open_to_all(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    upstream = await start_web(start_upstream, [])
    proxy = await start_proxy(MONITORS_ELSEWHERE.format(url=upstream.url))

    status, _, body = await get_json(f"{proxy.url}/__guidegate/healthz")

    assert (status, body) == (200, {"status": "ok"})
