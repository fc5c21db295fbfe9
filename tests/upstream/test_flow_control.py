"""Flow control: a reader that does not read pauses the upstream near HIGH_WATER, and reading resumes it."""

from __future__ import annotations

import asyncio

from proxy.upstream.connection import HIGH_WATER

from .helpers import WAIT, Peer, StartUpstream

SIZE = 32 * 1024 * 1024
"""Large enough that the body cannot fit in the loopback socket buffers plus HIGH_WATER."""

MAX_READ = 256 * 1024
"""The maximum bytes one recv() of asyncio's selector transports takes (`max_size` in CPython 3.11's selector_events.py)."""


async def test_flow_control_pauses_and_resumes(start_upstream: StartUpstream) -> None:
    payload = bytes(range(256)) * (SIZE // 256)
    sent = asyncio.Event()

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE + payload)
        sent.set()
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    connection = await pool.acquire(WAIT)
    pool.release(connection, True)
    response = await upstream.request(pool)

    async with asyncio.timeout(WAIT):
        while connection.buffered < HIGH_WATER:
            await asyncio.sleep(0.01)
    buffered_at_pause = connection.buffered
    assert connection.transport is not None
    reading_at_pause = connection.transport.is_reading()
    await asyncio.sleep(0.2)
    buffered_later = connection.buffered
    peer = await upstream.peer(0)
    server_blocked = not sent.is_set() and peer.writer.transport.get_write_buffer_size() > 0

    first = await response.read()
    reading_after_read = connection.transport.is_reading()
    parts = [first]
    while chunk := await response.read():
        parts.append(chunk)
    response.close()
    await asyncio.wait_for(sent.wait(), WAIT)

    assert HIGH_WATER <= buffered_at_pause < HIGH_WATER + MAX_READ
    assert not reading_at_pause
    assert buffered_later == buffered_at_pause
    assert server_blocked
    assert len(first) == buffered_at_pause
    assert reading_after_read
    assert b"".join(parts) == payload
    assert pool.idle == 1
