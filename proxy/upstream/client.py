"""Send one request over a pooled upstream connection and hand back its response as it streams in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable

from multidict import CIMultiDict

from proxy.upstream.connection import UpstreamConnection
from proxy.upstream.errors import Disconnected, RequestBodyFailed, UpstreamError
from proxy.upstream.pool import ConnectionPool

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
"""Methods that may be sent again when a reused connection turns out to have been closed by the upstream."""

_LENGTH_REQUIRED = frozenset(("POST", "PUT", "PATCH"))


class InvalidRequestHead(UpstreamError):
    """A header name or value about to be sent upstream contains a line break."""


class UpstreamResponse:
    """The head of an upstream response and access to its body, which keeps arriving while the client reads it."""

    __slots__ = ("_pool", "_connection", "_sender", "_released", "status", "reason", "version", "headers")

    def __init__(self, pool: ConnectionPool, connection: UpstreamConnection, sender: asyncio.Task[None] | None) -> None:
        self._pool = pool
        self._connection = connection
        self._sender = sender
        self._released = False
        self.status = connection.status
        self.reason = connection.reason
        self.version = connection.version
        self.headers = connection.headers
        """Every header of the response as received, hop-by-hop ones included."""

    async def read(self) -> bytes | memoryview:
        """Return the next body bytes (all that arrived so far), b'' at the end; raise UpstreamError if the body broke off."""
        return await self._connection.read()

    def take_body(self) -> list[bytes | memoryview]:
        """Return the whole body as the pieces it arrived in, sparing the copy that joining them costs.

        Call it only when `body_received` is True; `read()` then returns b''.
        """
        if not self._connection.complete:
            raise RuntimeError("take_body() needs the whole body; check body_received first")
        return self._connection.take_received()

    @property
    def body_pending(self) -> bool:
        """Whether the body is not complete and none of it has arrived yet."""
        connection = self._connection
        return connection.buffered == 0 and not connection.complete

    @property
    def declared_length(self) -> int | None:
        """The body length that Content-Length declares, when it frames the body (not chunked, not read until close)."""
        return self._connection.declared_length

    @property
    def body_received(self) -> bool:
        """Whether the whole body has arrived, so the next `read()` returns all of it."""
        return self._connection.complete

    def close(self) -> None:
        """Give the connection back to the pool, or close it if the exchange did not end cleanly."""
        if self._released:
            return
        self._released = True
        connection = self._connection
        sender = self._sender
        sent = sender is None or (sender.done() and not sender.cancelled() and sender.exception() is None)
        if sender is not None and not sender.done():
            sender.cancel()
        self._pool.release(connection, connection.complete and connection.keep_alive and sent)


def request_head(method: str, target: str, headers: CIMultiDict[str], authority: str, *, chunked: bool, empty: bool) -> bytes:
    """Serialize the request line and headers; add Host, and the framing header the body needs.

    Raise InvalidRequestHead when a value carries a line break, which would split the head.
    """
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    if "Host" not in headers:
        lines.append(f"Host: {authority}\r\n")
    for name, value in headers.items():
        lines.append(f"{name}: {value}\r\n")
    if chunked:
        lines.append("Transfer-Encoding: chunked\r\n")
    elif empty and method in _LENGTH_REQUIRED and "Content-Length" not in headers:
        lines.append("Content-Length: 0\r\n")
    lines.append("\r\n")
    head = "".join(lines)
    if head.count("\n") != len(lines) or head.count("\r") != len(lines):
        raise InvalidRequestHead("a header for the upstream contains a line break; it was not sent")
    return head.encode("utf-8", "surrogateescape")


async def send(
    pool: ConnectionPool,
    method: str,
    target: str,
    headers: CIMultiDict[str],
    body: AsyncIterable[bytes] | None,
    *,
    length: int | None,
    connect_timeout: float,
    read_timeout: float,
) -> UpstreamResponse:
    """Send a request and return once the response head arrived; raise UpstreamError on failure.

    A body of unknown `length` goes out chunked. The body is sent by a task of its own, so a response
    sent before the upstream read everything is received at once. A request without a body whose reused
    connection turns out to be closed before any response byte arrives is sent once more on a new
    connection, if its method is idempotent: the upstream cannot have seen it.
    """
    chunked = body is not None and length is None
    head = request_head(method, target, headers, pool.authority, chunked=chunked, empty=body is None)
    retry = body is None and method in IDEMPOTENT_METHODS
    while True:
        connection = await pool.acquire(connect_timeout)
        reused = connection.exchanges > 0
        connection.begin(head_only=method == "HEAD", read_timeout=read_timeout)
        connection.write(head)
        sender = asyncio.ensure_future(_send_body(connection, body, chunked)) if body is not None else None
        try:
            await connection.wait_head()
        except Disconnected:
            _abandon(pool, connection, sender)
            if retry and reused and connection.received == 0:
                retry = False
                logger.debug("app %s: reused connection was closed; sending %s %s again on a new one", pool.name, method, target)
                continue
            raise
        except BaseException:
            _abandon(pool, connection, sender)
            raise
        return UpstreamResponse(pool, connection, sender)


def _abandon(pool: ConnectionPool, connection: UpstreamConnection, sender: asyncio.Task[None] | None) -> None:
    if sender is not None and not sender.done():
        sender.cancel()
    pool.release(connection, False)


async def _send_body(connection: UpstreamConnection, body: AsyncIterable[bytes], chunked: bool) -> None:
    """Stream the request body; a failure to read it ends the exchange with RequestBodyFailed."""
    try:
        async for chunk in body:
            if not chunk:
                continue
            if chunked:
                connection.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            else:
                connection.write(chunk)
            connection.touch()
            await connection.drain()
        if chunked:
            connection.write(b"0\r\n\r\n")
    except UpstreamError:
        return  # The connection went away; waiting for the response reports it.
    except asyncio.CancelledError:
        raise
    except Exception as error:
        connection.fail(RequestBodyFailed(f"reading the request body failed: {type(error).__name__}", error))
