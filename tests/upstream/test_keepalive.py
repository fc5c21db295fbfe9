"""Keep-alive: which responses leave their connection reusable, and the retry after a stale pooled connection."""

from __future__ import annotations

import asyncio

import pytest
from multidict import CIMultiDict

from proxy.upstream import Disconnected

from .helpers import WAIT, Peer, Reply, StartUpstream, body_of, read_all, response, serve


async def test_keepalive_reuses_connection(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(serve(Reply(response(b"one")), Reply(response(b"two"))))
    pool = upstream.pool()

    first = await upstream.request(pool, target="/a")
    first_body = await read_all(first)
    first.close()
    idle_after_first = pool.idle
    second = await upstream.request(pool, target="/b?x=1")
    second_body = await read_all(second)
    second.close()

    assert first_body == b"one"
    assert second_body == b"two"
    assert idle_after_first == 1
    assert len(upstream.peers) == 1
    assert upstream.peers[0].requests == [
        f"GET /a HTTP/1.1\r\nHost: 127.0.0.1:{upstream.port}\r\n\r\n".encode(),
        f"GET /b?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{upstream.port}\r\n\r\n".encode(),
    ]
    assert pool.idle == 1
    assert pool.in_use == 0


@pytest.mark.parametrize(
    ("first", "connections"),
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", 1, id="http11"),
        pytest.param(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\none", 2, id="connection-close"),
        pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none", 2, id="http10"),
        pytest.param(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\none", 1, id="http10-keep-alive"),
    ],
)
async def test_keepalive_by_response(start_upstream: StartUpstream, first: bytes, connections: int) -> None:
    upstream = await start_upstream(serve(Reply(first), Reply(response(b"two"))))
    pool = upstream.pool()

    response_one = await upstream.request(pool)
    body_one = await read_all(response_one)
    response_one.close()
    idle_after_first = pool.idle
    response_two = await upstream.request(pool)
    body_two = await read_all(response_two)
    response_two.close()

    assert body_one == b"one"
    assert body_two == b"two"
    assert idle_after_first == (1 if connections == 1 else 0)
    assert len(upstream.peers) == connections


async def test_keepalive_unread_body_not_reused(start_upstream: StartUpstream) -> None:
    first_closed = asyncio.Event()

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        if len(upstream.peers) == 1:
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfour")
            assert await peer.read_until_closed() == b""
            first_closed.set()
        else:
            await peer.send(response(b"two"))
            await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    first = await upstream.request(pool)
    first.close()
    async with asyncio.timeout(WAIT):
        await first_closed.wait()
    second = await upstream.request(pool)
    second_body = await read_all(second)
    second.close()

    assert second_body == b"two"
    assert len(upstream.peers) == 2
    assert pool.idle == 1


async def test_keepalive_server_closes_after_response(start_upstream: StartUpstream) -> None:
    # Either the client notices the close while the connection is idle, or its request meets the closed
    # connection and is sent again. Both ways the second request succeeds on a new connection.
    upstream = await start_upstream(serve(Reply(response(b"one"), close=True), Reply(response(b"two"))))
    pool = upstream.pool()

    first = await upstream.request(pool)
    await read_all(first)
    first.close()
    second = await upstream.request(pool)
    second_body = await read_all(second)
    second.close()

    assert second_body == b"two"
    assert len(upstream.peers) == 2
    assert [len(peer.requests) for peer in upstream.peers] == [1, 1]


@pytest.mark.parametrize(
    ("method", "body", "retried"),
    [
        pytest.param("GET", None, True, id="get"),
        pytest.param("HEAD", None, True, id="head"),
        pytest.param("PUT", None, True, id="put-without-body"),
        pytest.param("DELETE", None, True, id="delete"),
        pytest.param("POST", None, False, id="post-without-body"),
        pytest.param("PATCH", None, False, id="patch-without-body"),
        pytest.param("POST", b"data", False, id="post-with-body"),
        pytest.param("PUT", b"data", False, id="put-with-body"),
    ],
)
async def test_keepalive_stale_connection(
    start_upstream: StartUpstream, method: str, body: bytes | None, retried: bool
) -> None:
    async def handle(peer: Peer) -> None:
        if len(upstream.peers) == 1:
            await peer.read_head()
            await peer.send(response(b"one"))
            head = await peer.read_head()
            await peer.read_body(head)
            return  # Closed with the request unanswered, as when a keep-alive timeout meets a new request.
        head = await peer.read_head()
        await peer.read_body(head)
        await peer.send(response(b"" if method == "HEAD" else b"two"))
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    first = await upstream.request(pool)
    await read_all(first)
    first.close()
    headers = CIMultiDict([("Content-Length", str(len(body)))]) if body is not None else None
    request_body = body_of(body) if body is not None else None

    if retried:
        second = await upstream.request(pool, method, headers=headers, body=request_body, length=None if body is None else len(body))
        second_body = await read_all(second)
        second.close()
        assert second.status == 200
        assert second_body == (b"" if method == "HEAD" else b"two")
        assert len(upstream.peers) == 2
        assert upstream.peers[0].requests[1] == upstream.peers[1].requests[0]
    else:
        with pytest.raises(Disconnected) as raised:
            await upstream.request(pool, method, headers=headers, body=request_body, length=None if body is None else len(body))
        assert str(raised.value) == "the upstream closed the connection before sending a response"
        assert len(upstream.peers) == 1
    assert len(upstream.peers[0].requests) == 2
    assert upstream.peers[0].requests[1].startswith(f"{method} / HTTP/1.1\r\n".encode())


async def test_keepalive_fresh_connection_not_retried(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(serve(Reply(b"", close=True)))
    pool = upstream.pool()

    with pytest.raises(Disconnected) as raised:
        await upstream.request(pool)

    assert str(raised.value) == "the upstream closed the connection before sending a response"
    assert len(upstream.peers) == 1


async def test_keepalive_partial_response_not_retried(start_upstream: StartUpstream) -> None:
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(response(b"one"))
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\n")

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    first = await upstream.request(pool)
    await read_all(first)
    first.close()

    with pytest.raises(Disconnected) as raised:
        await upstream.request(pool)

    assert str(raised.value) == "the upstream closed the connection before the response was complete"
    assert len(upstream.peers) == 1


async def test_keepalive_bytes_after_response(start_upstream: StartUpstream) -> None:
    # Bytes that arrive after a complete response, in a later packet, leave the connection in an unknown state.
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(response(b"one"))
        await asyncio.sleep(0.05)
        await peer.send(b"HTTP/1.1 200 OK\r\n")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()
    first = await upstream.request(pool)
    await read_all(first)
    first.close()
    peer = await upstream.peer(0)

    await asyncio.wait_for(peer.eof.wait(), WAIT)

    assert pool.idle == 0
    assert pool.in_use == 0
