"""Header hygiene through the proxy: hop-by-hop removal, forwarding headers, Host, no added headers."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from conftest import RawHandler, RawRequest, Running, StartProxy, StartRawUpstream, StartUpstream
from proxy.headers import ClientView, add_forwarding_headers


async def echo_headers(request: web.Request) -> web.Response:
    """Respond with the request headers exactly as received, in order."""
    await request.read()
    pairs = [[name.decode("latin-1"), value.decode("latin-1")] for name, value in request.raw_headers]
    return web.json_response({"method": request.method, "target": request.raw_path, "headers": pairs})


async def start_echo(start_upstream: StartUpstream) -> Running:
    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", echo_headers)
    return await start_upstream(application)


def app_config(upstream: Running, extra: str = "", app_extra: str = "") -> str:
    return f"""
{extra}
apps:
  - name: web
    upstream: {upstream.url}/
{app_extra}
"""


async def upstream_headers(raw_request: RawRequest, proxy: Running, header_lines: str, method: str = "GET", body: bytes = b"") -> CIMultiDict[str]:
    """Send a request with `header_lines` and return the headers the upstream received."""
    request = f"{method} /echo HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\nConnection: close\r\n{header_lines}\r\n".encode() + body
    response = await raw_request(proxy.port, request)
    assert response.status == 200, response.raw
    received: CIMultiDict[str] = CIMultiDict()
    for name, value in json.loads(response.body)["headers"]:
        received.add(name, value)
    return received


REQUEST_HOP_BY_HOP = [
    pytest.param("Connection: keep-alive, X-Hop-One, x-hop-two\r\nX-Hop-One: 1\r\nX-Hop-Two: 2\r\n", ["Connection", "X-Hop-One", "X-Hop-Two"], id="connection-and-named"),
    pytest.param("Keep-Alive: timeout=5, max=100\r\n", ["Keep-Alive"], id="keep-alive"),
    pytest.param("TE: trailers\r\n", ["TE"], id="te"),
    pytest.param("Trailer: X-Checksum\r\n", ["Trailer"], id="trailer"),
    pytest.param("Upgrade: h2c\r\n", ["Upgrade"], id="upgrade"),
    pytest.param("Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n", ["Proxy-Authorization"], id="proxy-authorization"),
    pytest.param("Proxy-Connection: keep-alive\r\n", ["Proxy-Connection"], id="proxy-connection"),
]


@pytest.mark.parametrize(("lines", "dropped"), REQUEST_HOP_BY_HOP)
async def test_request_hop_by_hop_removed(
    start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, lines: str, dropped: list[str]
) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream))

    received = await upstream_headers(raw_request, proxy, "X-Kept: yes\r\n" + lines)

    for name in dropped:
        assert name not in received
    assert received.getall("X-Kept") == ["yes"]


async def test_request_chunked_framing_replaced(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream))

    received = await upstream_headers(raw_request, proxy, "Transfer-Encoding: chunked\r\n", "POST", b"3\r\nabc\r\n0\r\n\r\n")

    assert received.getall("Transfer-Encoding") == ["chunked"]
    assert "Content-Length" not in received


REQUEST_PASSED = [
    pytest.param("Cookie: a=1\r\nCookie: b=2\r\n", "Cookie", ["a=1", "b=2"], id="repeated-cookie"),
    pytest.param("Authorization: Bearer abc\r\n", "Authorization", ["Bearer abc"], id="authorization"),
    pytest.param("X-Custom: v1\r\nx-custom: v2\r\n", "X-Custom", ["v1", "v2"], id="repeated-custom"),
]


@pytest.mark.parametrize(("lines", "name", "values"), REQUEST_PASSED)
async def test_request_end_to_end_kept(
    start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest, lines: str, name: str, values: list[str]
) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream))

    received = await upstream_headers(raw_request, proxy, lines)

    assert received.getall(name) == values


RESPONSE_HOP_BY_HOP = [
    pytest.param("Connection: X-Hop-One\r\nX-Hop-One: 1\r\n", ["X-Hop-One"], id="connection-named"),
    pytest.param("Keep-Alive: timeout=5\r\n", ["Keep-Alive"], id="keep-alive"),
    pytest.param("TE: trailers\r\n", ["TE"], id="te"),
    pytest.param("Trailer: X-Checksum\r\n", ["Trailer"], id="trailer"),
    pytest.param("Upgrade: h2c\r\n", ["Upgrade"], id="upgrade"),
    pytest.param("Proxy-Authenticate: Basic realm=x\r\n", ["Proxy-Authenticate"], id="proxy-authenticate"),
    pytest.param("Proxy-Connection: keep-alive\r\n", ["Proxy-Connection"], id="proxy-connection"),
]


def reply_with(head_lines: str, body: bytes = b"ok") -> RawHandler:
    """Build a raw upstream handler that responds to one request with `head_lines` and a Content-Length body."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nX-Kept: yes\r\n{head_lines}Content-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()

    return handle


@pytest.mark.parametrize(("lines", "dropped"), RESPONSE_HOP_BY_HOP)
async def test_response_hop_by_hop_removed(
    start_raw_upstream: StartRawUpstream, start_proxy: StartProxy, raw_request: RawRequest, lines: str, dropped: list[str]
) -> None:
    port = await start_raw_upstream(reply_with(lines))
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: http://127.0.0.1:{port}/\n")

    response = await raw_request(proxy.port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\nConnection: close\r\n\r\n".encode())

    for name in dropped:
        assert name not in response.headers
    assert response.headers.getall("X-Kept") == ["yes"]
    assert response.headers.getall("Connection") == ["close"]
    assert response.body == b"ok"


async def test_response_chunked_framing_replaced(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"part one, ")
        await response.write(b"part two")
        return response

    application = web.Application()
    application.router.add_get("/", chunked)
    upstream = await start_upstream(application)
    proxy = await start_proxy(app_config(upstream))

    response = await raw_request(proxy.port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{proxy.port}\r\nConnection: close\r\n\r\n".encode())

    assert response.headers.getall("Transfer-Encoding") == ["chunked"]
    assert response.body == b"part one, part two"
    assert response.complete


FORWARDING = [
    pytest.param(
        "",
        "",
        {
            "X-Forwarded-For": "127.0.0.1",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "erp.example.com",
            "Forwarded": "for=127.0.0.1;host=erp.example.com;proto=http",
        },
        id="untrusted-plain",
    ),
    pytest.param(
        "",
        "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nForwarded: for=203.0.113.9\r\n",
        {
            "X-Forwarded-For": "127.0.0.1",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "erp.example.com",
            "Forwarded": "for=127.0.0.1;host=erp.example.com;proto=http",
        },
        id="untrusted-replaces-spoofed",
    ),
    pytest.param(
        "trusted_proxies: [127.0.0.1/32]",
        "",
        {
            "X-Forwarded-For": "127.0.0.1",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "erp.example.com",
            "Forwarded": "for=127.0.0.1;host=erp.example.com;proto=http",
        },
        id="trusted-plain",
    ),
    pytest.param(
        "trusted_proxies: [127.0.0.1/32]",
        "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: https\r\n"
        "X-Forwarded-Host: erp.public.example\r\nForwarded: for=203.0.113.9;proto=https\r\n",
        {
            "X-Forwarded-For": "203.0.113.9, 198.51.100.7, 127.0.0.1",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "erp.public.example",
            "Forwarded": "for=203.0.113.9;proto=https, for=127.0.0.1;host=erp.public.example;proto=https",
        },
        id="trusted-appends",
    ),
    pytest.param(
        "trusted_proxies: [10.0.0.0/8]",
        "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n",
        {
            "X-Forwarded-For": "127.0.0.1",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "erp.example.com",
            "Forwarded": "for=127.0.0.1;host=erp.example.com;proto=http",
        },
        id="other-network-trusted",
    ),
]


@pytest.mark.parametrize(("extra", "lines", "expected"), FORWARDING)
async def test_forwarding_headers(
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    raw_request: RawRequest,
    extra: str,
    lines: str,
    expected: dict[str, str],
) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream, extra))

    request = f"GET / HTTP/1.1\r\nHost: erp.example.com\r\nConnection: close\r\n{lines}\r\n".encode()
    response = await raw_request(proxy.port, request)
    received: CIMultiDict[str] = CIMultiDict(json.loads(response.body)["headers"])
    for name, value in expected.items():
        assert received.getall(name) == [value]


REQUEST_ID = [
    pytest.param("", "X-Request-Id: client-chosen\r\n", None, id="untrusted-replaced"),
    pytest.param("trusted_proxies: [127.0.0.1/32]", "X-Request-Id: client-chosen\r\n", "client-chosen", id="trusted-kept"),
    pytest.param("trusted_proxies: [127.0.0.1/32]", "", None, id="trusted-missing-generated"),
]


@pytest.mark.parametrize(("extra", "lines", "expected"), REQUEST_ID)
async def test_request_id_header(
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    raw_request: RawRequest,
    extra: str,
    lines: str,
    expected: str | None,
) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream, extra))

    received = await upstream_headers(raw_request, proxy, lines)

    values = received.getall("X-Request-Id")
    assert len(values) == 1
    if expected is None:
        assert re.fullmatch(r"[0-9a-f]{16}", values[0])
    else:
        assert values[0] == expected


HOST_HEADER = [
    pytest.param("upstream", "erp.example.com", "127.0.0.1:{upstream}", id="upstream"),
    pytest.param("client", "erp.example.com", "erp.example.com", id="client"),
    pytest.param("client", "erp.example.com:8443", "erp.example.com:8443", id="client-with-port"),
]


@pytest.mark.parametrize(("mode", "sent", "expected"), HOST_HEADER)
async def test_host_header_upstream(
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    raw_request: RawRequest,
    mode: str,
    sent: str,
    expected: str,
) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream, app_extra=f"    host_header: {mode}"))

    response = await raw_request(proxy.port, f"GET / HTTP/1.1\r\nHost: {sent}\r\nConnection: close\r\n\r\n".encode())
    received: CIMultiDict[str] = CIMultiDict(json.loads(response.body)["headers"])
    assert received.getall("Host") == [expected.format(upstream=upstream.port)]


NO_ADDED_HEADERS = [
    pytest.param("GET", b"", [], id="get"),
    pytest.param("POST", b"", ["Content-Length"], id="post-empty"),
    pytest.param("POST", b"a=1", ["Content-Length"], id="post-without-content-type"),
]


@pytest.mark.parametrize(("method", "body", "framing"), NO_ADDED_HEADERS)
async def test_no_automatic_headers(
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    raw_request: RawRequest,
    method: str,
    body: bytes,
    framing: list[str],
) -> None:
    upstream = await start_echo(start_upstream)
    proxy = await start_proxy(app_config(upstream))

    length = f"Content-Length: {len(body)}\r\n" if method == "POST" else ""
    received = await upstream_headers(raw_request, proxy, length, method, body)

    names = sorted(name.lower() for name in received)
    expected = ["forwarded", "host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-request-id"]
    assert names == sorted(expected + [name.lower() for name in framing])


FORWARDED_UNIT = [
    pytest.param(ClientView("192.0.2.4", "https", "erp.example.com", False), "192.0.2.4", 'for=192.0.2.4;host=erp.example.com;proto=https', id="ipv4"),
    pytest.param(ClientView("2001:db8::7", "http", "erp.example.com", False), "2001:db8::7", 'for="[2001:db8::7]";host=erp.example.com;proto=http', id="ipv6-quoted"),
    pytest.param(ClientView("::1", "http", "[::1]:8080", False), "::1", 'for="[::1]";host="[::1]:8080";proto=http', id="ipv6-host-quoted"),
    pytest.param(ClientView("192.0.2.4", "http", 'odd"host', False), "192.0.2.4", 'for=192.0.2.4;host="odd\\"host";proto=http', id="quote-escaped"),
    pytest.param(ClientView("", "http", "erp.example.com", False), "", "for=unknown;host=erp.example.com;proto=http", id="no-peer"),
]


@pytest.mark.parametrize(("view", "forwarded_for", "forwarded"), FORWARDED_UNIT)
def test_forwarded_element(view: ClientView, forwarded_for: str, forwarded: str) -> None:
    upstream: CIMultiDict[str] = CIMultiDict()

    add_forwarding_headers(upstream, CIMultiDictProxy(CIMultiDict()), view)

    assert upstream.getall("X-Forwarded-For") == [forwarded_for]
    assert upstream.getall("Forwarded") == [forwarded]
