"""How an injected page is framed for the client.

It gets its length when it arrived whole, or when the upstream declared a length and the snippet
was placed in the start of the body before the head went out. Otherwise it is sent chunked.
"""

from __future__ import annotations

import asyncio
import gzip

import pytest

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


@pytest.mark.parametrize(
    ("upstream_framing", "first_part", "seen_first", "framing"),
    [
        # The start contains the whole head, so the snippet is placed and the rest passes unchanged.
        pytest.param("length", HEAD_PART, b"<body>", "length", id="length-known-from-start"),
        # The head has not ended in the start, so the tag waits and the length is not known yet.
        pytest.param("length", HEAD_PART[:48], b"<head>", "chunked", id="start-undecided"),
        pytest.param("chunked", HEAD_PART, b"<body>", "chunked", id="upstream-chunked"),
    ],
)
async def test_streamed_page_framing(
    start_raw_upstream: StartRawUpstream,
    start_proxy: StartProxy,
    upstream_framing: str,
    first_part: bytes,
    seen_first: bytes,
    framing: str,
) -> None:
    release = asyncio.Event()
    page = HEAD_PART + REST
    rest = page[len(first_part) :]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        # A charset in the header spares the <meta> prescan, which would wait for 1024 bytes.
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        if upstream_framing == "length":
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(page) + first_part)
        else:
            writer.write(head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%b\r\n" % (len(first_part), first_part))
        await writer.drain()
        await release.wait()  # The rest follows only once the client has seen the start.
        if upstream_framing == "length":
            writer.write(rest)
        else:
            writer.write(b"%x\r\n%b\r\n0\r\n\r\n" % (len(rest), rest))
        await writer.drain()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config(port))

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + NAVIGATION + b"\r\n")
        first = await asyncio.wait_for(reader.readuntil(seen_first), STEP_TIMEOUT)
        release.set()
        remainder = await asyncio.wait_for(reader.read(), STEP_TIMEOUT)
    finally:
        writer.close()

    response = parse_response(first + remainder)
    assert response.status == 200
    assert response.complete
    assert without_version(response.body) == injected(page)
    if framing == "length":
        assert response.headers["Content-Length"] == str(len(response.body))
        assert "Transfer-Encoding" not in response.headers
    else:
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers


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



async def test_sized_page_cut_short(start_raw_upstream: StartRawUpstream, start_proxy: StartProxy) -> None:
    """An upstream that closes before its declared length leaves the client a body shorter than the length in its head."""
    page = HEAD_PART + REST

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%b" % (len(page), HEAD_PART)
        )
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config(port))

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + NAVIGATION + b"\r\n")
        data = await asyncio.wait_for(reader.read(), STEP_TIMEOUT)
    finally:
        writer.close()

    response = parse_response(data)
    assert response.status == 200
    snippet_length = len(response.body) - len(HEAD_PART)
    assert response.headers["Content-Length"] == str(len(page) + snippet_length)
    assert not response.complete
    assert without_version(response.body) == injected(HEAD_PART)
