"""Scripted loopback upstreams for the HTTP/1.1 client tests: raw servers that read and write exact bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from multidict import CIMultiDict

from proxy.upstream import ConnectionPool, UpstreamResponse, send

WAIT = 2.0
"""Seconds a test waits for something that should happen at once on loopback before it fails."""


class Peer:
    """The server side of one accepted connection, reading requests byte by byte as they arrive."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.requests: list[bytes] = []
        """Every request head read on this connection, in order, each ending with the blank line."""
        self.bodies: list[bytes] = []
        """Every request body read by read_body(), as it was on the wire."""
        self.eof = asyncio.Event()
        """Set once read_until_closed() saw the client close the connection."""

    async def read_head(self) -> bytes:
        """Read one request head up to its blank line; return b"" when the client closed the connection first."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise
            return b""
        except ConnectionResetError:
            return b""
        self.requests.append(head)
        return head

    async def read_body(self, head: bytes) -> bytes:
        """Read the body that `head` announces and return it as it was on the wire (chunk framing included)."""
        fields = CIMultiDict[str]()
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if line:
                name, _, value = line.partition(":")
                fields.add(name, value.strip())
        if fields.get("Transfer-Encoding", "").lower() == "chunked":
            body = await self.read_chunked()
        else:
            body = await self.reader.readexactly(int(fields.get("Content-Length", "0")))
        self.bodies.append(body)
        return body

    async def read_chunked(self) -> bytes:
        """Read a chunked body, trailers included, and return its exact wire bytes."""
        wire = bytearray()
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            wire += size_line
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:
                    line = await self.reader.readuntil(b"\r\n")
                    wire += line
                    if line == b"\r\n":
                        return bytes(wire)
            wire += await self.reader.readexactly(size + 2)

    async def send(self, data: bytes) -> None:
        """Write bytes and wait until the kernel took them."""
        self.writer.write(data)
        await self.writer.drain()

    async def read_until_closed(self) -> bytes:
        """Read until the client closes the connection; return the bytes that came before."""
        try:
            return await self.reader.read()
        except ConnectionResetError:
            return b""
        finally:
            self.eof.set()


Handler = Callable[[Peer], Awaitable[None]]


@dataclass(frozen=True)
class Reply:
    """Bytes a scripted upstream writes after reading one request; `close` ends the connection afterwards."""

    data: bytes
    close: bool = False


def response(body: bytes = b"", *, status: str = "200 OK", headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """Build an HTTP/1.1 response with a Content-Length body and the given extra headers, in order."""
    lines = [f"HTTP/1.1 {status}\r\n", *(f"{name}: {value}\r\n" for name, value in headers)]
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "".join(lines).encode("latin-1") + body


def serve(*replies: Reply) -> Handler:
    """Return a handler that replies to requests, on whichever connection they come, with `replies` in order.

    The handler reads each request's body before it replies, and closes a connection that has no reply left.
    """
    queue = list(replies)

    async def handle(peer: Peer) -> None:
        while queue:
            head = await peer.read_head()
            if not head:
                return
            await peer.read_body(head)
            reply = queue.pop(0)
            await peer.send(reply.data)
            if reply.close:
                return

    return handle


async def body_of(*chunks: bytes) -> AsyncIterator[bytes]:
    """Yield `chunks` as a request body, giving the event loop a turn before each."""
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk


async def read_all(response: UpstreamResponse) -> bytes:
    """Read a response body to its end."""
    parts = []
    while chunk := await response.read():
        parts.append(chunk)
    return b"".join(parts)


class Upstream:
    """A raw loopback server that runs a test's handler on each connection, with pools aimed at it."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self.peers: list[Peer] = []
        """Every accepted connection, in order."""
        self.pools: list[ConnectionPool] = []
        self.errors: list[BaseException] = []
        self.tasks: set[asyncio.Task[object]] = set()
        self.server: asyncio.Server | None = None
        self._accepted = asyncio.Condition()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._run, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        peer = Peer(reader, writer)
        async with self._accepted:
            self.peers.append(peer)
            self._accepted.notify_all()
        try:
            await self.handler(peer)
        except ConnectionError:
            pass  # The client closed the connection while the script was still writing.
        except asyncio.CancelledError:
            # Stopped by stop(). Returning normally spares Python 3.11's start_server an error log about the cancelled task.
            pass
        except Exception as error:
            self.errors.append(error)
        finally:
            writer.close()

    def pool(self, *, limit: int = 4, keepalive: float = 30.0) -> ConnectionPool:
        """Return a pool for app 'web' aimed at this server; the fixture closes it."""
        pool = ConnectionPool("web", "127.0.0.1", self.port, limit=limit, keepalive=keepalive)
        self.pools.append(pool)
        return pool

    async def peer(self, index: int) -> Peer:
        """Wait until connection number `index` (from 0) was accepted and return it."""
        async with asyncio.timeout(WAIT):
            async with self._accepted:
                await self._accepted.wait_for(lambda: len(self.peers) > index)
        return self.peers[index]

    async def request(
        self,
        pool: ConnectionPool,
        method: str = "GET",
        target: str = "/",
        *,
        headers: CIMultiDict[str] | None = None,
        body: AsyncIterable[bytes] | None = None,
        length: int | None = None,
        read_timeout: float = WAIT,
    ) -> UpstreamResponse:
        """Send one request through `pool` with the client under test."""
        return await send(
            pool,
            method,
            target,
            headers if headers is not None else CIMultiDict(),
            body,
            length=length,
            connect_timeout=WAIT,
            read_timeout=read_timeout,
        )

    async def stop(self) -> None:
        for pool in self.pools:
            await pool.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


StartUpstream = Callable[[Handler], Awaitable[Upstream]]
