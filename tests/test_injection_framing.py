"""How an injected page is framed for the client: with its length when it arrived whole, chunked while it streams."""

from __future__ import annotations

import asyncio
import gzip

from conftest import RawRequest, StartProxy, StartRawUpstream, parse_response

PAGE = b"<!DOCTYPE html><html><head><title>Orders</title></head><body><p>Open orders</p></body></html>"
HEAD_PART = b"<!DOCTYPE html><html><head><title>Orders</title></head><body>"
REST = b"<p>Open orders</p></body></html>"
NAVIGATION = b"Accept: text/html\r\nSec-Fetch-Dest: document\r\n"
STEP_TIMEOUT = 5.0


SNIPPET = (
    b'<script src="http://127.0.0.1/__guidegate/runtime/VERSION/guidegate.js" defer="defer" '
    b'data-guidegate-app="web"></script>'
)
"""The runtime's tag for Host 127.0.0.1, which goes right after <head>."""


def injected(page: bytes) -> bytes:
    return page.replace(b"<head>", b"<head>" + SNIPPET)


def config(port: int) -> str:
    return f"apps:\n  - name: web\n    upstream: http://127.0.0.1:{port}/\n"


def without_version(body: bytes) -> bytes:
    """Replace the runtime's version in its URL, which changes with every build of the runtime."""
    start = body.index(b"/runtime/") + len(b"/runtime/")
    end = body.index(b"/", start)
    return body[:start] + b"VERSION" + body[end:]


async def test_whole_page_has_length(start_raw_upstream: StartRawUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%b" % (len(PAGE), PAGE))
        await writer.drain()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config(port))

    response = await raw_request(proxy.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + NAVIGATION + b"\r\n")

    assert response.status == 200
    assert without_version(response.body) == injected(PAGE)
    assert response.headers["Content-Length"] == str(len(response.body))
    assert "Transfer-Encoding" not in response.headers


async def test_streamed_page_chunked(start_raw_upstream: StartRawUpstream, start_proxy: StartProxy) -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        length = len(HEAD_PART) + len(REST)
        # A charset in the header spares the <meta> prescan, which would wait for 1024 bytes.
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % length
        writer.write(head + HEAD_PART)
        await writer.drain()
        await release.wait()  # The rest follows only once the client has seen the head part.
        writer.write(REST)
        await writer.drain()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config(port))

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + NAVIGATION + b"\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"<body>"), STEP_TIMEOUT)
        release.set()
        rest = await asyncio.wait_for(reader.read(), STEP_TIMEOUT)
    finally:
        writer.close()

    response = parse_response(first + rest)
    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.headers
    assert response.complete
    assert without_version(response.body) == injected(HEAD_PART + REST)


async def test_whole_page_gzip_length(start_raw_upstream: StartRawUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    compressed = gzip.compress(PAGE)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
            % (len(compressed), compressed)
        )
        await writer.drain()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config(port))

    response = await raw_request(
        proxy.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept-Encoding: gzip\r\n" + NAVIGATION + b"\r\n"
    )

    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == str(len(response.body))
    assert without_version(gzip.decompress(response.body)) == injected(PAGE)

