"""Bodies through the proxy: streamed both ways, framing kept, size limits, methods, no decoding."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from conftest import RawRequest, Running, StartProxy, StartRawUpstream, StartUpstream

STEP_TIMEOUT = 5.0
"""Seconds a streaming step may take; a proxy that buffered whole bodies would wait forever instead."""


def app_config(upstream: Running, app_extra: str = "") -> str:
    return f"apps:\n  - name: web\n    upstream: {upstream.url}/\n{app_extra}"


async def start_single_route(start_upstream: StartUpstream, handler: Handler, method: str = "*") -> Running:
    application = web.Application()
    application.router.add_route(method, "/{tail:.*}", handler)
    return await start_upstream(application)


@pytest.mark.parametrize("framing", [pytest.param("chunked", id="chunked"), pytest.param("content-length", id="content-length")])
async def test_request_body_streams(start_upstream: StartUpstream, start_proxy: StartProxy, framing: str) -> None:
    first, rest = b"first chunk|", b"the rest of the body"
    first_arrived = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        head = await request.content.readexactly(len(first))
        first_arrived.set()
        tail = await request.content.read()
        return web.Response(body=head + tail)

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    async def body() -> AsyncIterator[bytes]:
        yield first
        await asyncio.wait_for(first_arrived.wait(), STEP_TIMEOUT)
        yield rest

    headers = {"Content-Length": str(len(first) + len(rest))} if framing == "content-length" else {}
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{proxy.url}/upload", data=body(), headers=headers) as response:
            received = await response.read()

    assert response.status == 200
    assert received == first + rest


async def test_response_body_streams(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    first, rest = b"first chunk|", b"the rest of the body"
    first_received = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(first)
        await asyncio.wait_for(first_received.wait(), STEP_TIMEOUT)
        await response.write(rest)
        return response

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    async with aiohttp.ClientSession() as client:
        async with client.get(f"{proxy.url}/download") as response:
            head = await asyncio.wait_for(response.content.readexactly(len(first)), STEP_TIMEOUT)
            first_received.set()
            tail = await asyncio.wait_for(response.content.read(), STEP_TIMEOUT)

    assert head == first
    assert tail == rest


REQUEST_FRAMING = [
    pytest.param(
        "Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", ["chunked"], [], id="chunked"
    ),
    pytest.param("Content-Length: 11\r\n", b"hello world", [], ["11"], id="content-length"),
]


@pytest.mark.parametrize(("header", "body", "transfer_encoding", "content_length"), REQUEST_FRAMING)
async def test_request_framing_kept(
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    raw_request: RawRequest,
    header: str,
    body: bytes,
    transfer_encoding: list[str],
    content_length: list[str],
) -> None:
    seen: list[tuple[list[str], list[str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        data = await request.read()
        seen.append((request.headers.getall("Transfer-Encoding", []), request.headers.getall("Content-Length", []), data))
        return web.Response(text="ok")

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    request = f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{header}\r\n".encode() + body
    response = await raw_request(proxy.port, request)

    assert response.status == 200
    assert seen == [(transfer_encoding, content_length, b"hello world")]


def status_kb(name: str) -> int:
    """Read one memory figure of this process from /proc/self/status, in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise LookupError(name)


async def test_large_response_memory_bounded(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    size, piece = 50 * 1024 * 1024, b"x" * (1024 * 1024)

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = size
        await response.prepare(request)
        for _ in range(size // len(piece)):
            await response.write(piece)
        return response

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    received = 0
    async with aiohttp.ClientSession() as client:
        # The peak resident size is reset here, so VmHWM below counts only the transfer.
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        before = status_kb("VmRSS")
        async with client.get(f"{proxy.url}/big") as response:
            async for chunk in response.content.iter_any():
                received += len(chunk)
        peak = status_kb("VmHWM")

    assert received == size
    # Upstream, proxy and client share this process; holding the body would add 50 MiB at once.
    assert peak - before < 20 * 1024


async def test_both_framings_rejected(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(text="ok")

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    request = (
        b"POST /smuggle HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        b"0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    response = await raw_request(proxy.port, request)

    assert response.status == 400
    assert seen == []


async def test_content_length_over_limit(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(text="ok")

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream, "    max_request_body: 10\n"))

    request = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 11\r\n\r\nhello world"
    response = await raw_request(proxy.port, request)

    request_id = response.headers["X-Request-Id"]
    assert response.status == 413
    assert response.body.decode() == (
        "413 Request Too Large: The request body of 11 bytes exceeds the limit of 10 bytes.\n"
        f"Request id: {request_id}\n"
    )
    assert seen == []


async def test_chunked_body_over_limit(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream, "    max_request_body: 10\n"))

    request = (
        b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n"
    )
    response = await raw_request(proxy.port, request)

    request_id = response.headers["X-Request-Id"]
    assert response.status == 413
    assert response.body.decode() == (
        "413 Request Too Large: The request body exceeds the limit of 10 bytes.\n" f"Request id: {request_id}\n"
    )


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]


@pytest.mark.parametrize("method", [pytest.param(method, id=method.lower()) for method in METHODS])
async def test_method_forwarded(start_upstream: StartUpstream, start_proxy: StartProxy, method: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=request.method.encode() + b" " + request.raw_path.encode() + b" " + body)

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    async with aiohttp.ClientSession() as client:
        async with client.request(method, f"{proxy.url}/item/7?x=1", data=b"payload") as response:
            received = await response.read()

    assert response.status == 200
    assert received == f"{method} /item/7?x=1 payload".encode()


NO_BODY = [
    pytest.param("HEAD", 200, {"Content-Length": "11"}, id="head"),
    pytest.param("GET", 204, {}, id="204"),
    pytest.param("GET", 304, {}, id="304"),
]


@pytest.mark.parametrize(("method", "status", "framing"), NO_BODY)
async def test_response_without_body(
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    raw_request: RawRequest,
    method: str,
    status: int,
    framing: dict[str, str],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if status == 200:
            return web.Response(text="hello world", headers={"ETag": '"v1"'})
        return web.Response(status=status, headers={"ETag": '"v1"'})

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    response = await raw_request(proxy.port, f"{method} /page HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())

    assert response.status == status
    assert response.raw.endswith(b"\r\n\r\n")
    assert response.body == b""
    assert response.headers["ETag"] == '"v1"'
    assert "Transfer-Encoding" not in response.headers
    for name, value in framing.items():
        assert response.headers.getall(name) == [value]


async def test_gzip_passed_unchanged(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    compressed = gzip.compress(b"<p>hello</p>" * 1000, mtime=0)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=compressed, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.get(f"{proxy.url}/data", headers={"Accept-Encoding": "gzip"}) as response:
            received = await response.read()

    assert received == compressed
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == str(len(compressed))


async def test_upstream_connection_reused(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    peers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(text="ok")

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.get(f"{proxy.url}/") as response:
                assert await response.read() == b"ok"

    assert len(peers) == 2
    assert peers[0] == peers[1]


async def test_client_abort_closes_upstream(start_raw_upstream: StartRawUpstream, start_proxy: StartProxy) -> None:
    upstream_closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100)
        await writer.drain()
        # Nothing more is sent, like a long poll: only the proxy can end this exchange.
        if await reader.read() == b"":
            upstream_closed.set()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: http://127.0.0.1:{port}/\n    timeouts:\n      read: 60s\n")

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(reader.readuntil(b"x" * 100), STEP_TIMEOUT)
    writer.close()
    await writer.wait_closed()

    await asyncio.wait_for(upstream_closed.wait(), STEP_TIMEOUT)
    pool = proxy.gateway.upstreams.pool("web")
    assert (pool.in_use, pool.idle) == (0, 0)


async def test_expect_continue(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    seen: list[tuple[str | None, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.headers.get("Expect"), body))
        return web.Response(body=b"got " + body)

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
        writer.write(b"hello")
        final = await asyncio.wait_for(reader.read(), STEP_TIMEOUT)
    finally:
        writer.close()

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200 OK\r\n")
    assert final.endswith(b"\r\n\r\ngot hello")
    assert seen == [(None, b"hello")]


async def test_expect_unknown_is_417(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    seen: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(body=b"reached")

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    response = await raw_request(
        proxy.port,
        b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 5\r\nExpect: teapot\r\n\r\nhello",
    )

    request_id = response.headers["X-Request-Id"]
    assert response.status == 417
    assert response.body == (
        f"417 Expectation Failed: The expectation 'teapot' is not supported; only '100-continue' is.\n"
        f"Request id: {request_id}\n"
    ).encode()
    assert seen == []


async def test_expect_continue_http10(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"got " + await request.read())

    upstream = await start_single_route(start_upstream, handler)
    proxy = await start_proxy(app_config(upstream))

    response = await raw_request(
        proxy.port, b"POST /upload HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
    )

    assert not response.raw.startswith(b"HTTP/1.1 100")
    assert (response.status, response.body) == (200, b"got hello")
