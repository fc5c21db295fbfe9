"""One keep-alive HTTP/1.1 connection to an upstream: sends request bytes and parses the response as it arrives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

import httptools
from multidict import CIMultiDict

from proxy.upstream.errors import Disconnected, InvalidResponse, ReadTimeout, UpstreamError

logger = logging.getLogger(__name__)

HIGH_WATER = 512 * 1024
"""Response bytes buffered before reading from the upstream pauses until the client has taken them."""

_NO_BODY_STATUSES = frozenset((204, 304))


class UpstreamConnection(asyncio.Protocol):
    """A connection that carries one request at a time and parses each response with llhttp (httptools).

    The response head resolves a future; body chunks are buffered up to HIGH_WATER and handed out by
    `read()`. One timer enforces the read timeout. When it fires, it checks the time of the last
    packet and sets itself again for the rest, so it is not re-armed on every packet or exchange.
    Silence while reading is paused, because the client is slow, does not count.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[UpstreamConnection], None]) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.exchanges = 0
        """How many requests this connection has carried, the current one included."""
        self.idle_since = 0.0
        self._parser: httptools.HttpResponseParser | None = None
        self._parser_spent = False
        self._split = False
        self._remaining = 0
        """Body bytes still owed by a Content-Length response whose body bypasses the parser."""
        self._head: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._chunks: list[bytes | memoryview] = []
        self._buffered = 0
        self._reading_paused = False
        self._writing_paused = False
        self._error: UpstreamError | None = None
        self._complete = False
        self._interim = False
        self._head_only = False
        self._until_close = False
        self.received = 0
        """Bytes received for the current exchange."""
        self.declared_length: int | None = None
        """The body length that Content-Length declares when it frames the current response's body."""
        self.status = 0
        self.reason = ""
        self.version = "1.1"
        self.keep_alive = False
        self.headers: CIMultiDict[str] = CIMultiDict()
        self._read_timeout = 0.0
        self._last_activity = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._complete:
            # Bytes outside any response: the connection's state is unknown, so it is not reused.
            logger.debug("upstream sent %d bytes outside a response; closing the connection", len(data))
            self.close()
            return
        self.received += len(data)
        self._last_activity = self._loop.time()
        if self._remaining > 0:
            self._take_body(data)
            return
        try:
            self._parse(parser, data)
        except httptools.HttpParserUpgrade:
            self._fail(InvalidResponse("the upstream switched protocols on a plain HTTP request"))
        except httptools.HttpParserError as error:
            cause = error.__context__
            self._fail(cause if isinstance(cause, UpstreamError) else InvalidResponse(f"invalid HTTP response: {error}"))

    def _parse(self, parser: httptools.HttpResponseParser, data: bytes) -> None:
        """Parse response heads, and pass a Content-Length body on without the parser's copy.

        The parser gets the bytes up to the end of each head only. Once a head announces a length,
        the rest of the packet and later packets become body chunks as they are. Body bytes that
        the parser does see still count against the length, so both paths agree.
        """
        while not self._head_done():
            end = data.find(b"\r\n\r\n")
            if end < 0:
                parser.feed_data(data)
                return
            cut = end + 4
            self._split = True
            try:
                parser.feed_data(data if cut == len(data) else data[:cut])
            finally:
                self._split = False
            if cut == len(data):
                return
            if self._remaining > 0:
                self._take_body(memoryview(data)[cut:])
                return
            if self._complete:
                self.close()  # Bytes after a whole response: this connection cannot be trusted again.
                return
            data = data[cut:]
        parser.feed_data(data)

    def _head_done(self) -> bool:
        head = self._head
        return head is not None and head.done()

    def _take_body(self, data: bytes | memoryview) -> None:
        remaining = self._remaining
        if len(data) > remaining:
            logger.debug("upstream sent %d bytes after the response body; closing the connection", len(data) - remaining)
            self.keep_alive = False
            self._append_body(data[:remaining])
            self._remaining = 0
            self._finish()
            self.close()
            return
        self._remaining = remaining - len(data)
        self._append_body(data)
        if self._remaining == 0:
            self._finish()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if self._parser is not None and not self._complete and self._error is None:
            if self._head is not None and self._head.done() and self._until_close:
                self._finish()  # A response without length or chunking ends when the connection does.
            elif self._head is not None and not self._head.done() and self.received == 0:
                self._fail(Disconnected("the upstream closed the connection before sending a response"))
            else:
                self._fail(Disconnected("the upstream closed the connection before the response was complete"))
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(Disconnected("the upstream closed the connection while the request was being sent"))
        self._on_lost(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._complete:
            # A second response in the same packet, which no request asked for: stop parsing, do not reuse.
            raise InvalidResponse("the upstream sent a response that no request asked for")

    def on_status(self, reason: bytes) -> None:
        # llhttp reports the reason phrase in pieces when it spans packets.
        self.reason += reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.status:
            return  # A trailer field after a chunked body: not part of the response head the caller holds.
        self.headers.add(name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if 100 <= status < 200:
            if status == 101:
                raise InvalidResponse("the upstream answered 101 Switching Protocols to a plain HTTP request")
            # An interim response such as 103 Early Hints: wait for the final one.
            self._interim = True
            self.headers = CIMultiDict()
            self.reason = ""
            return
        self.status = status
        self.version = parser.get_http_version()
        self.keep_alive = parser.should_keep_alive()
        headers = self.headers
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        no_body = self._head_only or status in _NO_BODY_STATUSES
        self._until_close = not no_body and not chunked and "Content-Length" not in headers
        self.declared_length = None
        if not no_body and not chunked and "Transfer-Encoding" not in headers:
            length = headers.get("Content-Length", "")
            if length.isdigit():
                self.declared_length = int(length)
        if self._split and self.declared_length:
            # The body is taken as it arrives (see _parse), so the parser never reads its end.
            self._remaining = self.declared_length
            self._parser_spent = True
        head = self._head
        if head is not None and not head.done():
            head.set_result(None)
        if self._head_only:
            self._parser_spent = True
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        if self._remaining > 0:
            self._remaining -= len(body)
        self._append_body(body)

    def _append_body(self, body: bytes | memoryview) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered >= HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._finish()

    # The exchange

    def begin(self, *, head_only: bool, read_timeout: float) -> None:
        """Prepare for a new request; `head_only` for HEAD, whose response has no body."""
        self.exchanges += 1
        if self._parser is None or self._parser_spent:
            # llhttp starts over after each complete message, so one parser serves a connection's responses.
            # A HEAD response or a body taken past the parser leaves it mid-message, so it is replaced.
            self._parser = httptools.HttpResponseParser(self)
            self._parser_spent = False
        self._head = self._loop.create_future()
        self._chunks = []
        self._buffered = 0
        self._error = None
        self._complete = False
        self._interim = False
        self._head_only = head_only
        self._until_close = False
        self._remaining = 0
        self.received = 0
        self.declared_length = None
        self.status = 0
        self.reason = ""
        self.keep_alive = False
        self.headers = CIMultiDict()
        self._read_timeout = read_timeout
        self._last_activity = now = self._loop.time()
        if self._timer is None or self._timer.when() > now + read_timeout:
            self._cancel_timer()
            self._timer = self._loop.call_at(now + read_timeout, self._on_timer)

    def write(self, data: bytes) -> None:
        """Send bytes; a closed connection drops them, and the exchange reports why."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def touch(self) -> None:
        """Note progress while the request body is still being sent, so the upstream's silence is not a timeout."""
        self._last_activity = self._loop.time()

    async def drain(self) -> None:
        """Wait until the upstream has taken what was written; raise Disconnected if it went away."""
        if self.closed:
            raise Disconnected("the upstream closed the connection while the request was being sent")
        if not self._writing_paused:
            return
        self._drain = self._loop.create_future()
        try:
            await self._drain
        finally:
            self._drain = None

    async def wait_head(self) -> None:
        """Wait for the response head; raise the UpstreamError that ended the exchange instead."""
        assert self._head is not None
        await self._head

    async def read(self) -> bytes | memoryview:
        """Return the body bytes received so far (waiting for some), or b'' once the body is complete.

        A piece that arrived with the response head comes as a view of the received bytes, not a copy.
        """
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self._chunks = []
                self._resume_reading()
                return data
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def take_received(self) -> list[bytes | memoryview]:
        """Return the body pieces received and not yet read, as they arrived, without joining them."""
        chunks = self._chunks
        self._chunks = []
        self._resume_reading()
        return chunks

    def _resume_reading(self) -> None:
        """Mark the buffered body as taken and resume reading if HIGH_WATER paused it."""
        self._buffered = 0
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self._last_activity = self._loop.time()
            self.transport.resume_reading()

    @property
    def buffered(self) -> int:
        """Body bytes received and not yet read."""
        return self._buffered

    @property
    def complete(self) -> bool:
        """Whether the whole response arrived without error."""
        return self._complete and self._error is None

    def fail(self, error: UpstreamError) -> None:
        """End the exchange with `error` and close the connection."""
        self._fail(error)

    def close(self) -> None:
        """Close the connection at once; pending waits end with the exchange's error."""
        # Set now rather than in connection_lost, which runs a loop turn later, so the pool never reuses it.
        self.closed = True
        self._cancel_timer()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    # Internals

    def _finish(self) -> None:
        # The timer stays armed: it ignores idle connections, and the next exchange reuses it.
        self._complete = True
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None and not self._complete:
            self._error = error
            head = self._head
            if head is not None and not head.done():
                head.set_exception(error)
                # Retrieved by wait_head; marked so an exchange that ended otherwise does not warn.
                head.exception()
            self._wake()
        self.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_timer(self) -> None:
        self._timer = None
        if self._complete or self._error is not None or self.closed:
            return  # Idle or finished: the next exchange arms a timer again.
        now = self._loop.time()
        if self._reading_paused:
            self._last_activity = now  # The client is slow, not the upstream.
        deadline = self._last_activity + self._read_timeout
        if now >= deadline:
            self._fail(ReadTimeout(f"the upstream sent nothing for {self._read_timeout:g} s"))
            return
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
