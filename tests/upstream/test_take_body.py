"""Taking a whole body as the pieces it arrived in: no join, the connection kept, and misuse rejected."""

from __future__ import annotations

import asyncio

import pytest

from .helpers import WAIT, Peer, StartUpstream


async def test_take_body_pieces(start_upstream: StartUpstream) -> None:
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
        await asyncio.sleep(0.05)
        await peer.send(b"def")
        await asyncio.sleep(0.05)
        await peer.send(b"ghi")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    response = await upstream.request(pool)
    async with asyncio.timeout(WAIT):
        while not response.body_received:
            await asyncio.sleep(0.01)

    pieces = response.take_body()
    rest = await response.read()
    response.close()

    assert [bytes(piece) for piece in pieces] == [b"abc", b"def", b"ghi"]
    assert rest == b""
    assert pool.idle == 1


async def test_take_body_incomplete(start_upstream: StartUpstream) -> None:
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    response = await upstream.request(pool)

    with pytest.raises(RuntimeError) as raised:
        response.take_body()
    response.close()

    assert str(raised.value) == "take_body() needs the whole body; check body_received first"
    assert pool.idle == 0
