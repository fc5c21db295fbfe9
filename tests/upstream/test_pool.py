"""The connection pool: its limit and queue, cancelled waits, idle connections that close or expire, connect failures."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from proxy.upstream import ConnectFailed, ConnectionPool, ConnectTimeout, TlsFailed
from proxy.upstream.connection import UpstreamConnection

from .helpers import WAIT, Peer, StartUpstream


async def hold_open(peer: Peer) -> None:
    await peer.read_until_closed()


async def settle() -> None:
    """Give every ready task a few loop turns, so a task that can go on has gone on."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_pool_limit_queues_in_order(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=1)
    order: list[str] = []
    first = await pool.acquire(WAIT)

    async def take(name: str) -> UpstreamConnection:
        connection = await pool.acquire(WAIT)
        order.append(f"{name} acquired")
        return connection

    second = asyncio.create_task(take("second"))
    await settle()
    third = asyncio.create_task(take("third"))
    await settle()
    waiting_before_release = (second.done(), third.done())
    order.append("first released")
    pool.release(first, True)
    got_second = await asyncio.wait_for(second, WAIT)
    await settle()
    third_waits_for_second = not third.done()
    order.append("second released")
    pool.release(got_second, True)
    got_third = await asyncio.wait_for(third, WAIT)
    pool.release(got_third, True)

    assert waiting_before_release == (False, False)
    assert third_waits_for_second
    assert order == ["first released", "second acquired", "second released", "third acquired"]
    assert got_second is first
    assert got_third is first
    assert len(upstream.peers) == 1
    assert pool.in_use == 0
    assert pool.idle == 1


async def test_pool_cancelled_wait(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=1)
    first = await pool.acquire(WAIT)
    waiting = asyncio.create_task(pool.acquire(WAIT))
    await settle()

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    pool.release(first, True)
    again = await asyncio.wait_for(pool.acquire(WAIT), WAIT)

    assert again is first
    assert pool.in_use == 1
    assert pool.idle == 0


async def test_pool_cancelled_after_wakeup(start_upstream: StartUpstream) -> None:
    # The woken waiter is cancelled before it runs: its turn passes to the next waiter instead of being lost.
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=1)
    first = await pool.acquire(WAIT)
    woken = asyncio.create_task(pool.acquire(WAIT))
    await settle()
    next_in_line = asyncio.create_task(pool.acquire(WAIT))
    await settle()

    pool.release(first, True)
    woken.cancel()
    with pytest.raises(asyncio.CancelledError):
        await woken
    got = await asyncio.wait_for(next_in_line, WAIT)

    assert got is first
    assert pool.in_use == 1
    assert len(upstream.peers) == 1


async def test_pool_unreusable_release_frees_slot(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=1)
    first = await pool.acquire(WAIT)
    waiting = asyncio.create_task(pool.acquire(WAIT))
    await settle()

    pool.release(first, False)
    second = await asyncio.wait_for(waiting, WAIT)
    first_peer = await upstream.peer(0)
    await asyncio.wait_for(first_peer.eof.wait(), WAIT)

    assert second is not first
    assert first.closed
    assert len(upstream.peers) == 2
    assert pool.in_use == 1
    assert pool.idle == 0


async def test_pool_newest_idle_first(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=2)
    older = await pool.acquire(WAIT)
    newer = await pool.acquire(WAIT)

    pool.release(older, True)
    pool.release(newer, True)
    picked = await pool.acquire(WAIT)

    assert picked is newer
    assert pool.idle == 1


async def wait_until_idle(pool: ConnectionPool, count: int) -> None:
    async with asyncio.timeout(WAIT):
        while pool.idle != count:
            await asyncio.sleep(0.01)


async def test_pool_idle_closed_by_server(start_upstream: StartUpstream) -> None:
    close_first = asyncio.Event()

    async def handle(peer: Peer) -> None:
        if len(upstream.peers) == 1:
            await close_first.wait()
            return
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool(limit=1)
    first = await pool.acquire(WAIT)
    pool.release(first, True)
    idle_before = pool.idle

    close_first.set()
    await wait_until_idle(pool, 0)
    second = await pool.acquire(WAIT)

    assert idle_before == 1
    assert first.closed
    assert second is not first
    assert len(upstream.peers) == 2


async def test_pool_keepalive_expiry(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(keepalive=0.1)
    loop = asyncio.get_running_loop()
    connection = await pool.acquire(WAIT)
    pool.release(connection, True)
    released = loop.time()
    idle_before = pool.idle

    peer = await upstream.peer(0)
    await asyncio.wait_for(peer.eof.wait(), WAIT)
    idle_for = loop.time() - released

    assert idle_before == 1
    assert idle_for >= 0.1
    assert pool.idle == 0
    assert connection.closed


async def test_pool_close(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=2)
    idle = await pool.acquire(WAIT)
    busy = await pool.acquire(WAIT)
    pool.release(idle, True)

    await pool.close()
    with pytest.raises(ConnectFailed) as raised:
        await pool.acquire(WAIT)
    async with asyncio.timeout(WAIT):
        for peer in upstream.peers:
            await peer.eof.wait()
    pool.release(busy, True)

    assert str(raised.value) == "the connection pool of app 'web' is closed"
    assert raised.value.kind == "refused"
    assert idle.closed
    assert busy.closed
    assert len(upstream.peers) == 2
    assert pool.idle == 0
    assert pool.in_use == 0


async def test_pool_close_wakes_waiter(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(limit=1)
    await pool.acquire(WAIT)
    waiting = asyncio.create_task(pool.acquire(WAIT))
    await settle()

    await pool.close()
    with pytest.raises(ConnectFailed) as raised:
        await asyncio.wait_for(waiting, WAIT)

    assert str(raised.value) == "the connection pool of app 'web' is closed"
    assert len(upstream.peers) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_pool_connect_refused() -> None:
    port = free_port()
    pool = ConnectionPool("web", "127.0.0.1", port, limit=1)

    with pytest.raises(ConnectFailed) as raised:
        await pool.acquire(WAIT)
    with pytest.raises(ConnectFailed) as again:
        await asyncio.wait_for(pool.acquire(WAIT), WAIT)
    await pool.close()

    assert str(raised.value) == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert raised.value.kind == "refused"
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    assert str(again.value) == str(raised.value)
    assert pool.in_use == 0


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """Yield the port of a listening socket whose accept queue is full, so a new connect gets no reply.

    Linux keeps backlog + 1 handshaken connections for a socket that never calls accept() and drops
    further SYNs, so a connect attempt hangs until its timeout.
    """
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        for _ in range(8):
            filler = socket.socket()
            filler.settimeout(0.05)
            fillers.append(filler)
            if filler.connect_ex(("127.0.0.1", port)) == errno.EAGAIN:
                break  # This attempt timed out unanswered: the queue is full.
        else:
            pytest.skip("the accept queue of a listening socket never filled up on this system")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_pool_connect_timeout(full_backlog: int) -> None:
    pool = ConnectionPool("web", "127.0.0.1", full_backlog, limit=1)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(ConnectTimeout) as raised:
        await pool.acquire(0.2)
    elapsed = loop.time() - started
    with pytest.raises(ConnectTimeout):
        await asyncio.wait_for(pool.acquire(0.2), WAIT)
    await pool.close()

    assert str(raised.value) == f"connecting to 127.0.0.1:{full_backlog} took longer than 0.2 s"
    assert raised.value.kind == "connect_timeout"
    assert 0.2 <= elapsed < 1.0
    assert pool.in_use == 0



async def test_pool_expired_idle_skipped(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(hold_open)
    pool = upstream.pool(keepalive=0.05)
    stale = await pool.acquire(WAIT)
    pool.release(stale, True)

    time.sleep(0.06)  # Blocks the loop, so the idle sweep cannot run before the next acquire.
    fresh = await pool.acquire(WAIT)

    assert fresh is not stale
    assert stale.closed
    assert len(upstream.peers) == 2
    assert pool.idle == 0
    assert pool.in_use == 1


async def test_pool_tls_failed(start_upstream: StartUpstream) -> None:
    async def plain_text(peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await peer.read_until_closed()

    upstream = await start_upstream(plain_text)
    pool = ConnectionPool("web", "127.0.0.1", upstream.port, limit=1, tls=ssl.create_default_context())

    with pytest.raises(TlsFailed) as raised:
        await pool.acquire(WAIT)
    await pool.close()

    assert str(raised.value).startswith(f"TLS handshake with 127.0.0.1:{upstream.port} failed: [SSL: WRONG_VERSION_NUMBER]")
    assert raised.value.kind == "tls"
    assert pool.in_use == 0
