"""A bounded pool of keep-alive connections to one upstream origin."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import ssl

from proxy.upstream.connection import UpstreamConnection
from proxy.upstream.errors import ConnectFailed, ConnectTimeout, TlsFailed

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 30.0
"""How long an idle connection stays open for reuse."""


class ConnectionPool:
    """Hands out connections to one host and port, at most `limit` open at once, reusing idle ones (newest first).

    Requests beyond the limit wait in arrival order. A connection the upstream closes while idle leaves
    the pool at once; one idle for longer than KEEPALIVE_SECONDS is closed by a sweep.
    """

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        limit: int,
        tls: ssl.SSLContext | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.limit = limit
        self._tls = tls
        self._keepalive = keepalive
        default_port = 443 if tls is not None else 80
        bracketed = f"[{host}]" if ":" in host else host
        self.authority = bracketed if port == default_port else f"{bracketed}:{port}"
        """The Host header value that names this upstream."""
        self._idle: list[UpstreamConnection] = []
        self._open: set[UpstreamConnection] = set()
        self._connecting = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def in_use(self) -> int:
        """Connections handed out and not yet released."""
        return len(self._open) - len(self._idle)

    @property
    def idle(self) -> int:
        """Open connections waiting for their next request."""
        return len(self._idle)

    async def acquire(self, connect_timeout: float) -> UpstreamConnection:
        """Return an idle connection or a new one; wait while `limit` connections are open."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ConnectFailed(f"the connection pool of app '{self.name}' is closed")
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed and loop.time() - connection.idle_since < self._keepalive:
                    return connection
                self._forget(connection)
            if len(self._open) + self._connecting < self.limit:
                return await self._connect(loop, connect_timeout)
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif not waiter.cancelled():
                    self._wake_one()  # Pass on the turn this task was given.
                raise

    def release(self, connection: UpstreamConnection, reusable: bool) -> None:
        """Take a connection back: keep it for the next request if `reusable`, otherwise close it."""
        if reusable and not connection.closed and not self._closed and connection in self._open:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
            self._schedule_sweep()
        else:
            self._forget(connection)
        self._wake_one()

    async def close(self) -> None:
        """Close every connection and refuse new requests."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def _connect(self, loop: asyncio.AbstractEventLoop, timeout: float) -> UpstreamConnection:
        self._connecting += 1
        try:
            connection = await self._open_connection(loop, timeout)
        except BaseException:
            self._connecting -= 1
            self._wake_one()  # The slot this attempt held is free again.
            raise
        self._connecting -= 1
        self._open.add(connection)
        logger.debug("app %s: opened connection %d to %s", self.name, len(self._open), self.authority)
        return connection

    async def _open_connection(self, loop: asyncio.AbstractEventLoop, timeout: float) -> UpstreamConnection:
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: UpstreamConnection(loop, self._lost),
                    self.host,
                    self.port,
                    ssl=self._tls,
                    server_hostname=self.host if self._tls is not None else None,
                )
        except TimeoutError as error:
            raise ConnectTimeout(f"connecting to {self.authority} took longer than {timeout:g} s") from error
        except ssl.SSLError as error:
            raise TlsFailed(f"TLS handshake with {self.authority} failed: {error}") from error
        except (OSError, socket.gaierror) as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise ConnectFailed(f"cannot connect to {self.authority}: {reason}") from error
        return connection

    def _lost(self, connection: UpstreamConnection) -> None:
        if connection in self._open:
            self._forget(connection)
            self._wake_one()

    def _forget(self, connection: UpstreamConnection) -> None:
        connection.close()
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _schedule_sweep(self) -> None:
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(self._keepalive, self._sweep_idle)

    def _sweep_idle(self) -> None:
        self._sweep = None
        now = asyncio.get_running_loop().time()
        for connection in [c for c in self._idle if now - c.idle_since >= self._keepalive]:
            self._forget(connection)
        if self._idle:
            self._schedule_sweep()
