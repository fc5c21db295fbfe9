"""The read timeout: a silent upstream fails the exchange, a trickling one or a slow client does not."""

from __future__ import annotations

import asyncio

import pytest

from proxy.upstream import ReadTimeout
from proxy.upstream.connection import HIGH_WATER

from .helpers import WAIT, Peer, Reply, StartUpstream, read_all, response, serve

TIMEOUT = 0.2


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(b"HTTP/1.1 200 OK\r\n", id="part-of-head"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n", id="interim-only"),
    ],
)
async def test_timeout_waiting_for_head(start_upstream: StartUpstream, sent: bytes) -> None:
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(sent)
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(ReadTimeout) as raised:
        await upstream.request(pool, read_timeout=TIMEOUT)
    elapsed = loop.time() - started
    peer = await upstream.peer(0)
    await asyncio.wait_for(peer.eof.wait(), WAIT)

    assert str(raised.value) == "the upstream sent nothing for 0.2 s"
    assert raised.value.kind == "timeout"
    assert TIMEOUT <= elapsed < TIMEOUT + 0.5
    assert pool.in_use == 0
    assert pool.idle == 0


async def test_timeout_mid_body(start_upstream: StartUpstream) -> None:
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    first = await upstream.request(pool, read_timeout=TIMEOUT)
    received = await first.read()
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(ReadTimeout) as raised:
        await first.read()
    elapsed = loop.time() - started
    first.close()

    assert received == b"hello"
    assert str(raised.value) == "the upstream sent nothing for 0.2 s"
    assert elapsed < TIMEOUT + 0.5
    assert pool.idle == 0


async def test_timeout_trickle_kept_alive(start_upstream: StartUpstream) -> None:
    # Each byte comes well within the timeout, while the whole body takes three timeouts.
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for byte in b"steady":
            await asyncio.sleep(TIMEOUT / 2)
            await peer.send(bytes([byte]))
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    first = await upstream.request(pool, read_timeout=TIMEOUT)
    body = await read_all(first)
    first.close()

    assert body == b"steady"
    assert pool.idle == 1


async def test_timeout_not_after_complete(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(serve(Reply(response(b"done")), Reply(response(b"again"))))
    pool = upstream.pool()

    first = await upstream.request(pool, read_timeout=TIMEOUT)
    await asyncio.sleep(TIMEOUT * 2)
    body = await read_all(first)
    first.close()
    await asyncio.sleep(TIMEOUT * 2)
    second = await upstream.request(pool, read_timeout=TIMEOUT)
    second_body = await read_all(second)
    second.close()

    assert body == b"done"
    assert second_body == b"again"
    assert len(upstream.peers) == 1


async def test_timeout_paused_slow_reader(start_upstream: StartUpstream) -> None:
    size = 16 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + payload)
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    connection = await pool.acquire(WAIT)
    pool.release(connection, True)
    first = await upstream.request(pool, read_timeout=TIMEOUT)

    async with asyncio.timeout(WAIT):
        while connection.buffered < HIGH_WATER:
            await asyncio.sleep(0.01)
    assert connection.transport is not None
    paused = not connection.transport.is_reading()
    await asyncio.sleep(TIMEOUT * 3)
    body = await read_all(first)
    first.close()

    assert paused
    assert len(body) == size
    assert body == payload
    assert pool.idle == 1
