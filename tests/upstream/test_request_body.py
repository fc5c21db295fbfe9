"""Request bodies: exact bytes on the wire, a failing body, and an upstream that responds before reading it all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from multidict import CIMultiDict

from proxy.upstream import Disconnected, InvalidResponse, RequestBodyFailed

from .helpers import WAIT, Peer, Reply, StartUpstream, body_of, read_all, response, serve


@pytest.mark.parametrize(
    ("chunks", "length", "framing", "wire"),
    [
        pytest.param([b"ab", b"", b"cd"], 4, "Content-Length: 4", b"abcd", id="content-length"),
        pytest.param([b"ab", b"", b"x" * 300], None, "Transfer-Encoding: chunked", b"2\r\nab\r\n12c\r\n" + b"x" * 300 + b"\r\n0\r\n\r\n", id="chunked"),
        pytest.param([b"\r\n0\r\n\r\n"], None, "Transfer-Encoding: chunked", b"7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n", id="chunked-framing-inside"),
        pytest.param([], None, "Transfer-Encoding: chunked", b"0\r\n\r\n", id="chunked-empty"),
        pytest.param([b""], None, "Transfer-Encoding: chunked", b"0\r\n\r\n", id="chunked-only-empty-chunk"),
    ],
)
async def test_request_body_wire(
    start_upstream: StartUpstream, chunks: list[bytes], length: int | None, framing: str, wire: bytes
) -> None:
    upstream = await start_upstream(serve(Reply(response(b"stored")), Reply(response(b"again"))))
    pool = upstream.pool()
    headers = CIMultiDict([("Content-Length", str(length))]) if length is not None else CIMultiDict[str]()

    first = await upstream.request(pool, "POST", "/upload", headers=headers, body=body_of(*chunks), length=length)
    body = await read_all(first)
    first.close()
    second = await upstream.request(pool)
    await read_all(second)
    second.close()

    assert body == b"stored"
    assert upstream.peers[0].requests[0] == f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{upstream.port}\r\n{framing}\r\n\r\n".encode()
    assert upstream.peers[0].bodies[0] == wire
    assert len(upstream.peers) == 1


async def test_request_body_slow_upstream(start_upstream: StartUpstream) -> None:
    # The upstream reads nothing for a while, so the client's writes pile up and it must wait to send more.
    size = 8 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    piece = 64 * 1024

    async def handle(peer: Peer) -> None:
        head = await peer.read_head()
        await asyncio.sleep(0.2)
        await peer.read_body(head)
        await peer.send(response(b"stored"))
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    chunks = [payload[start : start + piece] for start in range(0, size, piece)]

    first = await upstream.request(
        pool, "PUT", headers=CIMultiDict([("Content-Length", str(size))]), body=body_of(*chunks), length=size, read_timeout=WAIT
    )
    body = await read_all(first)
    first.close()

    assert body == b"stored"
    assert upstream.peers[0].bodies == [payload]
    assert pool.idle == 1


async def test_request_body_iterator_raises(start_upstream: StartUpstream) -> None:
    failure = ValueError("the client went away")

    async def broken() -> AsyncIterator[bytes]:
        yield b"part"
        await asyncio.sleep(0)
        raise failure

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        peer.bodies.append(await peer.read_until_closed())

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    with pytest.raises(RequestBodyFailed) as raised:
        await upstream.request(pool, "POST", body=broken())
    peer = await upstream.peer(0)
    await asyncio.wait_for(peer.eof.wait(), WAIT)

    assert str(raised.value) == "reading the request body failed: ValueError"
    assert raised.value.cause is failure
    assert raised.value.kind == "request_body"
    assert peer.bodies == [b"4\r\npart\r\n"]
    assert pool.in_use == 0
    assert pool.idle == 0


async def test_request_body_early_response(start_upstream: StartUpstream) -> None:
    more = asyncio.Event()
    finished: list[str] = []

    async def stalled() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await more.wait()
            yield b"never sent"
        finally:
            finished.append("body closed")

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(response(b"too large", status="413 Content Too Large", headers=(("Connection", "keep-alive"),)))
        peer.bodies.append(await peer.read_until_closed())

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    first = await upstream.request(pool, "POST", headers=CIMultiDict([("Content-Length", "15")]), body=stalled(), length=15)
    body = await read_all(first)
    first.close()
    peer = await upstream.peer(0)
    await asyncio.wait_for(peer.eof.wait(), WAIT)

    assert first.status == 413
    assert first.reason == "Content Too Large"
    assert body == b"too large"
    assert peer.bodies == [b"first"]
    assert finished == ["body closed"]
    assert pool.idle == 0
    assert pool.in_use == 0


async def test_request_body_fails_after_response(start_upstream: StartUpstream) -> None:
    answered = asyncio.Event()

    async def failing_late() -> AsyncIterator[bytes]:
        yield b"first"
        await answered.wait()
        raise ValueError("the client went away")

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(response(b"too large", status="413 Content Too Large"))
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    first = await upstream.request(pool, "POST", headers=CIMultiDict([("Content-Length", "15")]), body=failing_late(), length=15)
    answered.set()
    peer = await upstream.peer(0)
    await asyncio.wait_for(peer.eof.wait(), WAIT)
    body = await read_all(first)
    first.close()

    assert first.status == 413
    assert body == b"too large"
    assert pool.idle == 0


async def test_request_body_upstream_closes(start_upstream: StartUpstream) -> None:
    size = 8 * 1024 * 1024

    async def handle(peer: Peer) -> None:
        await peer.read_head()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    chunks = [b"x" * 65536] * (size // 65536)

    with pytest.raises(Disconnected) as raised:
        await upstream.request(pool, "POST", headers=CIMultiDict([("Content-Length", str(size))]), body=body_of(*chunks), length=size)

    assert str(raised.value) == "the upstream closed the connection before sending a response"
    assert pool.in_use == 0
    assert pool.idle == 0


async def test_request_body_invalid_response(start_upstream: StartUpstream) -> None:
    finished: list[str] = []

    async def stalled() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()
        finally:
            finished.append("body closed")

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"NOT HTTP\r\n\r\n")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    with pytest.raises(InvalidResponse) as raised:
        await upstream.request(pool, "POST", body=stalled())
    await asyncio.sleep(0)

    assert str(raised.value) == "invalid HTTP response: Expected HTTP/, RTSP/ or ICE/"
    assert finished == ["body closed"]
    assert pool.in_use == 0
    assert pool.idle == 0
