"""Response framing: lengths, chunks, read-until-close, bodiless statuses, interim responses and invalid bytes."""

from __future__ import annotations

import asyncio

import pytest
from multidict import CIMultiDict

from proxy.upstream import Disconnected, InvalidResponse, UpstreamError

from .helpers import Peer, Reply, StartUpstream, body_of, read_all, response, serve

SECOND = response(b"second")
"""The response to the request that checks whether the first connection was reused."""


@pytest.mark.parametrize(
    ("method", "reply", "status", "reason", "version", "headers", "body", "connections"),
    [
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"),
            200, "OK", "1.1", [("Content-Type", "text/plain"), ("Content-Length", "5")], b"hello", 1,
            id="content-length",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            200, "OK", "1.1", [("Content-Length", "0")], b"", 1,
            id="content-length-zero",
        ),
        pytest.param(
            "GET",
            Reply(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                b"5;name=value\r\nhello\r\n6;flag\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
            ),
            200, "OK", "1.1", [("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum")], b"hello world", 1,
            id="chunked-extensions-trailers",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"),
            200, "OK", "1.1", [("Transfer-Encoding", "chunked")], b"abcdefghijklmnopqrstuvwxyz", 1,
            id="chunked-uppercase-hex",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", close=True),
            200, "OK", "1.1", [("Content-Type", "text/plain")], b"until the end", 2,
            id="until-close-http11",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.0 200 OK\r\n\r\nold server", close=True),
            200, "OK", "1.0", [], b"old server", 2,
            id="until-close-http10",
        ),
        pytest.param(
            "HEAD",
            Reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n"),
            200, "OK", "1.1", [("Content-Type", "text/html"), ("Content-Length", "1234")], b"", 1,
            id="head-content-length",
        ),
        pytest.param(
            "HEAD",
            Reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            200, "OK", "1.1", [("Transfer-Encoding", "chunked")], b"", 1,
            id="head-chunked",
        ),
        pytest.param(
            "DELETE",
            Reply(b"HTTP/1.1 204 No Content\r\nX-Deleted: 1\r\n\r\n"),
            204, "No Content", "1.1", [("X-Deleted", "1")], b"", 1,
            id="204",
        ),
        pytest.param(
            "GET",
            Reply(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 50\r\n\r\n'),
            304, "Not Modified", "1.1", [("ETag", '"v1"'), ("Content-Length", "50")], b"", 1,
            id="304-with-length",
        ),
        pytest.param(
            "POST",
            Reply(
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                b"HTTP/1.1 201 Created\r\nLocation: /items/7\r\nContent-Length: 2\r\n\r\nok"
            ),
            201, "Created", "1.1", [("Location", "/items/7"), ("Content-Length", "2")], b"ok", 1,
            id="interim-100-103",
        ),
        pytest.param(
            "GET",
            Reply(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-MiXeD-Case: Value  With  Spaces\r\nset-cookie: b=2\r\n"
                b"Vary: Accept\r\nVary: Cookie\r\nX-Empty:\r\nContent-Length: 1\r\n\r\nx"
            ),
            200, "OK", "1.1",
            [
                ("Set-Cookie", "a=1"), ("X-MiXeD-Case", "Value  With  Spaces"), ("set-cookie", "b=2"),
                ("Vary", "Accept"), ("Vary", "Cookie"), ("X-Empty", ""), ("Content-Length", "1"),
            ],
            b"x", 1,
            id="headers-exact",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 200 OK\r\nX-Raw: caf\xe9\r\nContent-Length: 0\r\n\r\n"),
            200, "OK", "1.1", [("X-Raw", "caf\udce9"), ("Content-Length", "0")], b"", 1,
            id="header-non-utf8",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 299 Quite Custom Reason\r\nContent-Length: 0\r\n\r\n"),
            299, "Quite Custom Reason", "1.1", [("Content-Length", "0")], b"", 1,
            id="reason-custom",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"),
            404, "", "1.1", [("Content-Length", "0")], b"", 1,
            id="reason-empty",
        ),
        pytest.param(
            "GET",
            Reply(b"HTTP/1.1 200 Tr\xe8s bien\r\nContent-Length: 0\r\n\r\n"),
            200, "Tr\xe8s bien", "1.1", [("Content-Length", "0")], b"", 1,
            id="reason-latin1",
        ),
    ],
)
async def test_framing_response(
    start_upstream: StartUpstream,
    method: str,
    reply: Reply,
    status: int,
    reason: str,
    version: str,
    headers: list[tuple[str, str]],
    body: bytes,
    connections: int,
) -> None:
    upstream = await start_upstream(serve(reply, Reply(SECOND)))
    pool = upstream.pool()

    first = await upstream.request(pool, method)
    received = await read_all(first)
    first.close()
    second = await upstream.request(pool)
    second_body = await read_all(second)
    second.close()

    assert first.status == status
    assert first.reason == reason
    assert first.version == version
    assert list(first.headers.items()) == headers
    assert received == body
    assert second_body == b"second"
    assert len(upstream.peers) == connections


@pytest.mark.parametrize(
    ("reply", "error_type", "message"),
    [
        pytest.param(
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            InvalidResponse, "the upstream answered 101 Switching Protocols to a plain HTTP request",
            id="101",
        ),
        pytest.param(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            InvalidResponse, "the upstream answered 101 Switching Protocols to a plain HTTP request",
            id="101-upgrade",
        ),
        pytest.param(
            b"SSH-2.0-OpenSSH_9.6\r\n",
            InvalidResponse, "invalid HTTP response: Expected HTTP/, RTSP/ or ICE/",
            id="garbage",
        ),
        pytest.param(
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            InvalidResponse, "invalid HTTP response: Invalid status code",
            id="bad-status",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            InvalidResponse, "invalid HTTP response: Invalid character in Content-Length",
            id="bad-content-length",
        ),
        pytest.param(
            b"",
            Disconnected, "the upstream closed the connection before sending a response",
            id="closed-at-once",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-",
            Disconnected, "the upstream closed the connection before the response was complete",
            id="closed-in-head",
        ),
    ],
)
async def test_framing_invalid_head(
    start_upstream: StartUpstream, reply: bytes, error_type: type[UpstreamError], message: str
) -> None:
    upstream = await start_upstream(serve(Reply(reply, close=True)))
    pool = upstream.pool()

    with pytest.raises(UpstreamError) as raised:
        await upstream.request(pool)

    assert type(raised.value) is error_type
    assert str(raised.value) == message
    assert raised.value.kind == "invalid_response"
    assert pool.in_use == 0
    assert pool.idle == 0
    assert len(upstream.peers) == 1


@pytest.mark.parametrize(
    ("reply", "received"),
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel", b"hel", id="content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwo", b"hellowo", id="chunked"),
    ],
)
async def test_framing_truncated_body(start_upstream: StartUpstream, reply: bytes, received: bytes) -> None:
    upstream = await start_upstream(serve(Reply(reply, close=True)))
    pool = upstream.pool()
    first = await upstream.request(pool)
    parts = []

    with pytest.raises(Disconnected) as raised:
        while chunk := await first.read():
            parts.append(chunk)
    first.close()

    assert b"".join(parts) == received
    assert str(raised.value) == "the upstream closed the connection before the response was complete"
    assert pool.in_use == 0
    assert pool.idle == 0


async def test_framing_unsolicited_response(start_upstream: StartUpstream) -> None:
    extra = b"HTTP/1.1 201 Created\r\nX-Extra: 1\r\nContent-Length: 0\r\n\r\n"
    upstream = await start_upstream(serve(Reply(response(b"hi") + extra), Reply(SECOND)))
    pool = upstream.pool()

    first = await upstream.request(pool)
    body = await read_all(first)
    first.close()
    second = await upstream.request(pool)
    second_body = await read_all(second)
    second.close()

    assert first.status == 200
    assert list(first.headers.items()) == [("Content-Length", "2")]
    assert body == b"hi"
    assert second_body == b"second"
    assert len(upstream.peers) == 2


async def test_framing_unsolicited_then_post(start_upstream: StartUpstream) -> None:
    extra = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    upstream = await start_upstream(serve(Reply(response(b"hi") + extra), Reply(SECOND)))
    pool = upstream.pool()

    first = await upstream.request(pool)
    await read_all(first)
    first.close()
    headers = CIMultiDict([("Content-Length", "4")])
    second = await upstream.request(pool, "POST", headers=headers, body=body_of(b"data"), length=4)
    second_body = await read_all(second)
    second.close()

    assert second.status == 200
    assert second_body == b"second"
    assert len(upstream.peers) == 2
    assert upstream.peers[1].requests == [
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{upstream.port}\r\nContent-Length: 4\r\n\r\n".encode()
    ]


async def test_framing_pieces_apart(start_upstream: StartUpstream) -> None:
    pieces = [
        b"HTTP/1.1 100 Cont", b"inue\r\n\r\n", b"HTTP/1.1 200 Al", b"l Go", b"od\r\nX-Lo", b"ng: val", b"ue\r\nTransfer-Encoding: chu",
        b"nked\r\n\r\n", b"3;ext=", b"1\r\nabc\r", b"\n0\r\nX-Trai", b"ler: 1\r\n", b"\r\n",
    ]

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        for piece in pieces:
            await peer.send(piece)
            await asyncio.sleep(0.005)
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    first = await upstream.request(pool)
    body = await read_all(first)
    first.close()

    assert first.status == 200
    assert first.reason == "All Good"
    assert list(first.headers.items()) == [("X-Long", "value"), ("Transfer-Encoding", "chunked")]
    assert body == b"abc"
    assert pool.idle == 1


async def test_framing_body_pending(start_upstream: StartUpstream) -> None:
    more = asyncio.Event()

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        await more.wait()
        await peer.send(b"body")
        await peer.read_head()
        await peer.send(b"HTTP/1.1 204 No Content\r\n\r\n")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    first = await upstream.request(pool)
    pending_before = first.body_pending
    more.set()
    body = await read_all(first)
    pending_after = first.body_pending
    first.close()
    first.close()
    second = await upstream.request(pool)

    assert pending_before
    assert body == b"body"
    assert not pending_after
    assert not second.body_pending
    assert pool.in_use == 1
    assert pool.idle == 0
    second.close()
    assert pool.idle == 1


async def test_framing_head_with_body(start_upstream: StartUpstream) -> None:
    upstream = await start_upstream(serve(Reply(response(b"hello")), Reply(SECOND)))
    pool = upstream.pool()

    first = await upstream.request(pool, "HEAD")
    body = await read_all(first)
    first.close()
    second = await upstream.request(pool)
    second_body = await read_all(second)
    second.close()

    assert list(first.headers.items()) == [("Content-Length", "5")]
    assert body == b""
    assert second_body == b"second"


LENGTH_PIECES = [
    pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nab\r\n\r\ncdefgh"], id="whole-body-with-blank-line"),
    pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n", b"\r\nab\r\n\r\ncdefgh"], id="blank-line-split-then-body"),
    pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r", b"\nab\r\n\r\ncd", b"efgh"], id="cr-lf-split"),
    pytest.param([b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nab\r\n\r\ncdefgh"], id="interim-then-whole"),
    pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", b"ab\r\n\r\n", b"cdefgh"], id="head-then-pieces"),
]


@pytest.mark.parametrize("pieces", LENGTH_PIECES)
async def test_framing_length_body(start_upstream: StartUpstream, pieces: list[bytes]) -> None:
    async def handle(peer: Peer) -> None:
        for _ in range(2):
            if not await peer.read_head():
                return
            for piece in pieces:
                await peer.send(piece)
                await asyncio.sleep(0.005)
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    bodies = []
    for _ in range(2):
        response = await upstream.request(pool)
        bodies.append(await read_all(response))
        response.close()

    assert bodies == [b"ab\r\n\r\ncdefgh", b"ab\r\n\r\ncdefgh"]
    assert len(upstream.peers) == 1
    assert pool.idle == 1


async def test_framing_bytes_after_length_body(start_upstream: StartUpstream) -> None:
    async def handle(peer: Peer) -> None:
        await peer.read_head()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA")
        await peer.read_until_closed()

    upstream = await start_upstream(handle)
    pool = upstream.pool()

    response = await upstream.request(pool)
    body = await read_all(response)
    response.close()

    assert body == b"abc"
    assert pool.idle == 0
