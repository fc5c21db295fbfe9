"""Never an open proxy: requests reach only the configured upstream, whatever their target or Host header names."""

from __future__ import annotations

import pytest
from aiohttp import web

from conftest import RawRequest, Running, StartProxy, StartUpstream


async def start_recorder(start_upstream: StartUpstream, seen: list[str]) -> Running:
    async def handler(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.raw_path} Host={request.headers.get('Host')}")
        return web.Response(text="upstream")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handler)
    return await start_upstream(application)


MISDIRECTED = [
    pytest.param(
        "GET http://other.example/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n",
        "This server does not serve other.example; it only proxies its configured apps.",
        id="absolute-form-other-host",
    ),
    pytest.param(
        "GET http://other.example/ HTTP/1.1\r\nHost: other.example.net\r\n",
        "This server does not serve other.example; it only proxies its configured apps.",
        id="absolute-form-host-mismatch",
    ),
    pytest.param(
        "GET http://127.0.0.1:1/admin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n",
        "This server does not serve 127.0.0.1:1; it only proxies its configured apps.",
        id="absolute-form-other-port",
    ),
    pytest.param(
        "CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n",
        "Guidegate is a reverse proxy and does not open tunnels.",
        id="connect",
    ),
]


@pytest.mark.parametrize(("head", "detail"), MISDIRECTED)
async def test_misdirected_rejected(
    start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, head: str, detail: str
) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: {upstream.url}/\n")

    response = await raw_request(proxy.port, (head.format(port=proxy.port) + "Connection: close\r\n\r\n").encode())

    request_id = response.headers["X-Request-Id"]
    assert response.status == 421
    assert response.body.decode() == f"421 Misdirected Request: {detail}\nRequest id: {request_id}\n"
    assert seen == []


async def test_absolute_form_same_host_forwarded(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: {upstream.url}/\n")

    request = f"GET http://127.0.0.1:{proxy.port}/page?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\nConnection: close\r\n\r\n"
    response = await raw_request(proxy.port, request.encode())

    assert response.status == 200
    assert seen == [f"GET /page?q=1 Host=127.0.0.1:{upstream.port}"]


async def test_double_slash_stays_upstream(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: {upstream.url}/\n")

    response = await raw_request(proxy.port, b"GET //other.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

    assert response.status == 200
    assert seen == [f"GET //other.example/x Host=127.0.0.1:{upstream.port}"]


HOSTS = [
    pytest.param("other.example", 404, "No app is configured for host 'other.example'.", id="unknown-host"),
    pytest.param("", 404, "No app is configured for host ''.", id="empty-host"),
    pytest.param("erp.example.com.evil.example", 404, "No app is configured for host 'erp.example.com.evil.example'.", id="suffix-host"),
    pytest.param("ERP.Example.com:8080", 200, "", id="known-host-any-case-with-port"),
]


@pytest.mark.parametrize(("host", "status", "detail"), HOSTS)
async def test_host_routing(
    start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, host: str, status: int, detail: str
) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: erp\n    upstream: {upstream.url}/\n    hosts: [erp.example.com]\n")

    response = await raw_request(proxy.port, f"GET /a HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())

    assert response.status == status
    if status == 404:
        request_id = response.headers["X-Request-Id"]
        assert response.body.decode() == f"404 Not Found: {detail}\nRequest id: {request_id}\n"
        assert seen == []
    else:
        assert seen == [f"GET /a Host=127.0.0.1:{upstream.port}"]


async def test_unrouted_path_404(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: erp\n    upstream: {upstream.url}/\n    path_prefix: /erp/\n")

    response = await raw_request(proxy.port, b"GET /erpx/page HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

    request_id = response.headers["X-Request-Id"]
    assert response.status == 404
    assert response.body.decode() == (
        f"404 Not Found: No app is configured for path '/erpx/page' on host '127.0.0.1'.\nRequest id: {request_id}\n"
    )
    assert seen == []


DOT_SEGMENTS = [
    pytest.param("/erp/../admin", id="dot-dot"),
    pytest.param("/erp/%2e%2e/admin", id="encoded-dot-dot"),
    pytest.param("/erp/%2E./admin", id="mixed-dot-dot"),
    pytest.param("/erp/./x", id="dot"),
    pytest.param("/erp/..%5cadmin", id="encoded-backslash"),
    pytest.param("/erp/..\\admin", id="backslash"),
    pytest.param("/__guidegate/../erp/x", id="from-reserved-prefix"),
    pytest.param("/erp/x/..?next=1", id="trailing-dot-dot"),
]


@pytest.mark.parametrize("target", DOT_SEGMENTS)
async def test_dot_segments_rejected(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, target: str) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: erp\n    upstream: {upstream.url}/app/\n    path_prefix: /erp/\n")

    response = await raw_request(proxy.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())

    request_id = response.headers["X-Request-Id"]
    assert response.status == 400
    assert response.body.decode() == (
        f"400 Bad Request: The request path contains '.' or '..' segments; expected a normalized path.\nRequest id: {request_id}\n"
    )
    assert seen == []


EXACT_TARGETS = [
    pytest.param("/erp/a%2Fb?q=%41+b&r=%2e%2e", "/app/a%2Fb?q=%41+b&r=%2e%2e", id="encoded-slash-and-query"),
    pytest.param("/erp/%41bc", "/app/%41bc", id="encoded-unreserved"),
    pytest.param("/erp/a//b", "/app/a//b", id="double-slash"),
    pytest.param("/erp/file..txt", "/app/file..txt", id="dots-inside-segment"),
    pytest.param("/erp/caf%C3%A9", "/app/caf%C3%A9", id="encoded-utf8"),
    pytest.param("/erp?x=1", "/app/?x=1", id="prefix-without-slash"),
]


@pytest.mark.parametrize(("target", "forwarded"), EXACT_TARGETS)
async def test_target_forwarded_exactly(
    start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, target: str, forwarded: str
) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: erp\n    upstream: {upstream.url}/app/\n    path_prefix: /erp/\n")

    response = await raw_request(proxy.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())

    assert response.status == 200
    assert seen == [f"GET {forwarded} Host=127.0.0.1:{upstream.port}"]


ENCODED_PREFIX = [
    pytest.param("/%65rp/page", id="encoded-letter"),
    pytest.param("/erp%2Fpage", id="encoded-slash"),
]


@pytest.mark.parametrize("target", ENCODED_PREFIX)
async def test_encoded_prefix_not_routed(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, target: str) -> None:
    seen: list[str] = []
    upstream = await start_recorder(start_upstream, seen)
    proxy = await start_proxy(f"apps:\n  - name: erp\n    upstream: {upstream.url}/app/\n    path_prefix: /erp/\n")

    response = await raw_request(proxy.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())

    request_id = response.headers["X-Request-Id"]
    assert response.status == 404
    assert response.body.decode() == (
        f"404 Not Found: No app is configured for path '{target}' on host '127.0.0.1'.\nRequest id: {request_id}\n"
    )
    assert seen == []
