"""Forward one request to its app's upstream and stream the response back, both bodies streamed."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from proxy.config import App, Config
from proxy.errorpages import error_response
from proxy.headers import (
    ClientView,
    OriginMap,
    add_forwarding_headers,
    rewrite_response_headers,
    without_hop_by_hop,
)
from proxy.logsetup import ACCESS_LOGGER
from proxy.metrics import Metrics
from proxy.routing import Route
from proxy.upstream import ConnectionPool, RequestBodyFailed, UpstreamError, UpstreamResponse, send
from proxy.vectored import write_pieces
from proxy.websocket import is_websocket_upgrade, relay

logger = logging.getLogger(__name__)
access_logger = logging.getLogger(ACCESS_LOGGER)

SPLIT_AT = 8 * 1024
"""Bytes of a large chunk fed to a transformer before checking whether the rest may pass untouched."""

READ_CHUNK = 256 * 1024
"""Largest piece read from the upstream at once; larger pieces cost fewer Python round trips."""

# Client headers aiohttp would add on its own; the upstream must see only what the client sent.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_ORIGIN_MAPS_KEPT = 1024

_REQUEST_ONLY_DROP = frozenset(("host", "expect", "content-length"))


class ResponseTransformer(Protocol):
    """Rewrites a response body on its way to the client (the HTML injection implements it)."""

    def headers(self, headers: CIMultiDict[str]) -> CIMultiDict[str]: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def feed_view(self, chunk: bytes | memoryview) -> list[bytes | memoryview] | None:
        """Take a chunk without copying it and return the pieces to send, or None to have it fed as bytes."""
        ...

    def finish(self) -> bytes: ...

    @property
    def passing_through(self) -> bool:
        """Whether every further chunk would come back unchanged, so it need not be fed."""
        ...


class ForwardHook(Protocol):
    """A part that acts on exchanges as they pass: injection, workflow capture, page learning.

    `prepare_request` may change the headers sent upstream; `on_response` receives the response head
    (and may change the headers sent to the client) and may return a transformer for the body;
    `on_complete` runs after the last byte went out, with the final status. None of them may raise:
    each catches its own errors, logs and counts them, and lets the response through.
    """

    def prepare_request(self, exchange: "Exchange", headers: CIMultiDict[str]) -> CIMultiDict[str]: ...

    def on_response(
        self, exchange: "Exchange", upstream: UpstreamResponse, headers: CIMultiDict[str]
    ) -> "ResponseTransformer | None": ...

    def on_complete(self, exchange: "Exchange", status: int) -> None: ...


class BodyObserver(Protocol):
    """Receives request or response body chunks as they stream past (workflow capture implements it)."""

    def feed(self, chunk: bytes) -> None: ...


@dataclass(slots=True)
class Exchange:
    """One request's journey through the proxy, shared by the hooks that act on it."""

    request: web.Request
    route: Route
    app: App
    """The route's app, stored here because every hook reads it."""
    view: ClientView
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    upstream_started: float = 0.0
    upstream_status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    request_observers: list[BodyObserver] = field(default_factory=list)
    response_observers: list[BodyObserver] = field(default_factory=list)
    upstream_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    notes: dict[str, object] = field(default_factory=dict)
    """Per-exchange values the hooks share, keyed by a name each hook owns."""


class RelayedResponse(web.StreamResponse):
    """A streamed response whose head goes out in one write with the first body chunk, saving a send per response."""

    _send_headers_immediately = False


class RequestTooLarge(Exception):
    """The client sent more request body than the app's max_request_body allows."""


class Upstreams:
    """Per app, a pool of keep-alive connections for requests and an aiohttp session for WebSockets and probes."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._pools: dict[str, ConnectionPool] = {}

    async def start(self) -> None:
        """Create the pools and sessions; must run inside the event loop."""
        for app in self._config.apps:
            parts = urlsplit(app.upstream)
            tls = self._ssl_context(app) if parts.scheme == "https" else None
            self._pools[app.name] = ConnectionPool(
                app.name,
                parts.hostname or "",
                parts.port or (443 if parts.scheme == "https" else 80),
                limit=app.max_connections,
                tls=tls,
            )
            connector = aiohttp.TCPConnector(
                limit=app.max_connections,
                ssl=tls if tls is not None else False,
                keepalive_timeout=30,
                ttl_dns_cache=60,
            )
            self._sessions[app.name] = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                read_bufsize=READ_CHUNK,
                skip_auto_headers=_SKIP_AUTO_HEADERS,
            )
            logger.info("app %s: upstream %s pool ready (%d connections at most)", app.name, app.upstream, app.max_connections)

    def _ssl_context(self, app: App) -> ssl.SSLContext:
        if not app.tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=str(self._config.resolve(app.ca_file)) if app.ca_file else None)

    def session(self, app: str) -> aiohttp.ClientSession:
        """Return the aiohttp session of an app, for WebSocket relays and health probes."""
        return self._sessions[app]

    def pool(self, app: str) -> ConnectionPool:
        """Return the connection pool of an app."""
        return self._pools[app]

    async def close(self) -> None:
        """Close every pool and session with their connections."""
        for name, session in self._sessions.items():
            await self._pools[name].close()
            await session.close()
            logger.info("app %s: upstream pool closed", name)
        self._sessions.clear()
        self._pools.clear()


class Forwarder:
    """Sends requests upstream and streams responses back, with metrics, access log and error pages."""

    def __init__(
        self,
        config: Config,
        upstreams: Upstreams,
        metrics: Metrics,
        hooks: Sequence[ForwardHook] = (),
    ) -> None:
        self._config = config
        self._upstreams = upstreams
        self._metrics = metrics
        self.hooks: list[ForwardHook] = list(hooks)
        self._origin_maps: dict[tuple[str, str, str, str], OriginMap] = {}

    async def forward(self, exchange: Exchange) -> web.StreamResponse:
        """Forward one exchange; never raises for upstream failures, which become 502 or 504."""
        status = 0
        self._metrics.in_flight.inc()
        try:
            response = await self._forward(exchange)
            status = response.status
            return response
        except asyncio.CancelledError:
            status = 499
            raise
        finally:
            self._metrics.in_flight.dec()
            self._finish(exchange, status)
            for hook in self.hooks:
                hook.on_complete(exchange, status)

    async def _forward(self, exchange: Exchange) -> web.StreamResponse:
        request = exchange.request
        app = exchange.app
        length = request.content_length
        if length is not None and length > app.max_request_body:
            return self._error(exchange, 413, "Request Too Large", f"The request body of {length} bytes exceeds the limit of {app.max_request_body} bytes.")

        target = exchange.route.upstream_path(origin_form(request.raw_path))
        headers = self._upstream_headers(exchange)
        if is_websocket_upgrade(request):
            return await self._websocket(exchange, app.upstream_origin + target, headers)
        body = self._request_body(exchange) if request.body_exists else None
        if body is not None and length is not None:
            headers["Content-Length"] = str(length)

        exchange.upstream_started = time.perf_counter()
        try:
            upstream = await send(
                self._upstreams.pool(app.name),
                request.method,
                target,  # as received: no re-quoting, no dot-segment removal
                headers,
                body,
                length=length,
                connect_timeout=app.timeouts.connect,
                read_timeout=app.timeouts.read,
            )
        except RequestBodyFailed as error:
            if exchange.bytes_in > app.max_request_body:
                return self._error(exchange, 413, "Request Too Large", f"The request body exceeds the limit of {app.max_request_body} bytes.")
            logger.info(
                "app %s: request body of %s %s (request %s) could not be read: %s",
                app.name, request.method, request.path, exchange.request_id, _describe(error.cause),
            )
            return self._error(exchange, 400, "Bad Request", "The request body could not be read whole.")
        except UpstreamError as error:
            return self._upstream_failed(exchange, error, app.upstream_origin + target)

        try:
            return await self._relay(exchange, upstream)
        finally:
            upstream.close()

    async def _websocket(self, exchange: Exchange, url: str, headers: CIMultiDict[str]) -> web.StreamResponse:
        app = exchange.app
        session = self._upstreams.session(app.name)
        relayed = await relay(exchange.request, session, url, headers, app.timeouts.connect, app.name, exchange.request_id)
        if relayed is None:
            self._metrics.upstream_errors.labels(app.name, "websocket_handshake").inc()
            return self._error(exchange, 502, "Bad Gateway", f"The application '{app.name}' refused the WebSocket connection.")
        return relayed

    def _upstream_headers(self, exchange: Exchange) -> CIMultiDict[str]:
        request = exchange.request
        headers = without_hop_by_hop(request.headers, _REQUEST_ONLY_DROP)
        if exchange.app.host_header == "client" and exchange.view.host:
            headers["Host"] = exchange.view.host
        add_forwarding_headers(headers, request.headers, exchange.view)
        if not (exchange.view.trusted and "X-Request-Id" in request.headers):
            headers["X-Request-Id"] = exchange.request_id
        for hook in self.hooks:
            headers = hook.prepare_request(exchange, headers)
        exchange.upstream_headers = headers
        return headers

    async def _request_body(self, exchange: Exchange) -> AsyncIterator[bytes]:
        limit = exchange.app.max_request_body
        observers = exchange.request_observers
        async for chunk in exchange.request.content.iter_any():
            exchange.bytes_in += len(chunk)
            if exchange.bytes_in > limit:
                raise RequestTooLarge()
            for observer in observers:
                observer.feed(chunk)
            yield chunk

    async def _relay(self, exchange: Exchange, upstream: UpstreamResponse) -> web.StreamResponse:
        request = exchange.request
        exchange.upstream_status = upstream.status
        headers = without_hop_by_hop(upstream.headers)
        rewrite_response_headers(headers, self._origin_map(exchange))

        transformer = None
        for hook in self.hooks:
            candidate = hook.on_response(exchange, upstream, headers)
            if candidate is not None and transformer is None:
                transformer = candidate
        if transformer is not None:
            headers = transformer.headers(headers)
        observers = exchange.response_observers

        response = RelayedResponse(status=upstream.status, reason=upstream.reason or None, headers=headers)
        if transformer is not None and upstream.body_received:
            return await self._relay_whole(exchange, upstream, transformer, response)
        first: list[bytes | memoryview] | None = None
        if transformer is None and "Content-Length" in headers:
            response.content_length = int(headers["Content-Length"])
        elif transformer is not None and not observers and not upstream.body_pending and upstream.declared_length is not None:
            # The body's start has arrived: transform it before the head goes out. When the transformer
            # then lets the rest pass unchanged, the length is known and the client gets it, not chunks.
            start = await upstream.read()
            first = transform(transformer, start)
            if transformer.passing_through:
                response.content_length = upstream.declared_length + sum(len(piece) for piece in first) - len(start)
        writer = await response.prepare(request)
        if first is None and upstream.body_pending:
            # No body byte has arrived yet: send the head now rather than with the first chunk.
            await response.write(b"")

        try:
            settled = False
            if first is not None and transformer is not None:
                length = sum(len(piece) for piece in first)
                exchange.bytes_out += length
                await write_pieces(response, writer, first, length)
                settled = transformer.passing_through
            if (transformer is None and not observers) or settled:
                while chunk := await upstream.read():
                    exchange.bytes_out += len(chunk)
                    await response.write(chunk)
                tail = transformer.finish() if transformer is not None else b""
                if tail:
                    exchange.bytes_out += len(tail)
                    await response.write(tail)
            else:
                while chunk := await upstream.read():
                    if observers:
                        chunk = bytes(chunk)  # observers search and slice bytes
                        for observer in observers:
                            observer.feed(chunk)
                    pieces = transform(transformer, chunk) if transformer is not None else [chunk]
                    output = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    if output:
                        exchange.bytes_out += len(output)
                        await response.write(output)
                tail = transformer.finish() if transformer is not None else b""
                if tail:
                    exchange.bytes_out += len(tail)
                    await response.write(tail)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError) as error:
            # The client went away: drop the upstream connection rather than pool it half-read.
            logger.info(
                "app %s: client disconnected during response to %s %s (request %s): %s",
                exchange.app.name, request.method, request.path, exchange.request_id, error,
            )
            return response
        except UpstreamError as error:
            self._metrics.upstream_errors.labels(exchange.app.name, error.kind).inc()
            logger.warning(
                "app %s: upstream %s failed mid-response for %s %s (request %s): %s",
                exchange.app.name, exchange.app.upstream, request.method, request.path, exchange.request_id, _describe(error),
            )
            # Closing the client connection tells it the body is incomplete.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    async def _relay_whole(
        self, exchange: Exchange, upstream: UpstreamResponse, transformer: ResponseTransformer, response: RelayedResponse
    ) -> web.StreamResponse:
        """Transform a body that has arrived whole and send it with its length in one write, rather than chunked."""
        received = upstream.take_body()
        if exchange.response_observers:
            body = b"".join(received)  # observers search and slice bytes
            for observer in exchange.response_observers:
                observer.feed(body)
            received = [body]
        pieces: list[bytes | memoryview] = []
        for piece in received:
            pieces.extend(transform(transformer, piece))
        tail = transformer.finish()
        if tail:
            pieces.append(tail)
        length = sum(len(piece) for piece in pieces)
        response.content_length = length
        try:
            writer = await response.prepare(exchange.request)
            await write_pieces(response, writer, pieces, length)
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError) as error:
            logger.info(
                "app %s: client disconnected during response to %s %s (request %s): %s",
                exchange.app.name, exchange.request.method, exchange.request.path, exchange.request_id, error,
            )
            return response
        exchange.bytes_out += length
        return response

    def _origin_map(self, exchange: Exchange) -> OriginMap:
        # Cached: the same few public hosts reach each app, and building a map costs more than finding it.
        view, route = exchange.view, exchange.route
        key = (route.app.name, view.scheme, view.host, route.public_prefix)
        origins = self._origin_maps.get(key)
        if origins is None:
            if len(self._origin_maps) >= _ORIGIN_MAPS_KEPT:
                self._origin_maps.clear()
            app = route.app
            origins = OriginMap(app.upstream_origin, app.upstream_path, f"{view.scheme}://{view.host}", route.public_prefix)
            self._origin_maps[key] = origins
        return origins

    def _upstream_failed(self, exchange: Exchange, error: UpstreamError, url: str) -> web.Response:
        kind = _error_kind(error)
        self._metrics.upstream_errors.labels(exchange.app.name, kind).inc()
        request = exchange.request
        logger.warning(
            "app %s: upstream %s %s for %s %s (request %s): %s",
            exchange.app.name, exchange.app.upstream, kind, request.method, request.path, exchange.request_id, _describe(error),
        )
        if kind in ("connect_timeout", "timeout"):
            return self._error(exchange, 504, "Gateway Timeout", f"The application '{exchange.app.name}' did not answer in time.")
        return self._error(exchange, 502, "Bad Gateway", f"The application '{exchange.app.name}' could not be reached or sent an invalid response.")

    def _error(self, exchange: Exchange, status: int, title: str, detail: str) -> web.Response:
        return error_response(status, title, detail, exchange.request.headers.get("Accept", ""), exchange.request_id)

    def _finish(self, exchange: Exchange, status: int) -> None:
        app = exchange.app.name
        duration = time.perf_counter() - exchange.started
        self._metrics.count_request(app, status, duration, exchange.bytes_in, exchange.bytes_out)
        if access_logger.isEnabledFor(logging.INFO):
            upstream_ms = (time.perf_counter() - exchange.upstream_started) * 1000 if exchange.upstream_started else 0.0
            request = exchange.request
            access_logger.info(
                "%s %s %s %d %d %.1fms upstream=%.1fms id=%s",
                app, request.method, request.path, status, exchange.bytes_out, duration * 1000, upstream_ms, exchange.request_id,
                extra={
                    "app": app,
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "bytes": exchange.bytes_out,
                    "duration_ms": round(duration * 1000, 3),
                    "upstream_ms": round(upstream_ms, 3),
                    "request_id": exchange.request_id,
                },
            )


def transform(transformer: ResponseTransformer, chunk: bytes | memoryview) -> list[bytes | memoryview]:
    """Feed a chunk to a transformer, sparing a large chunk's copies once the transformer lets bytes pass.

    The rewriter decides within the first KiB of most pages. Feeding it only SPLIT_AT bytes first lets
    the rest of a large chunk skip the rewriter's buffers: it is copied once, by the caller's join.
    A memoryview (a body read without copying) is turned into bytes only where the transformer reads it.
    """
    if transformer.passing_through:
        return [chunk]
    pieces = transformer.feed_view(chunk)
    if pieces is not None:
        return pieces
    if len(chunk) <= SPLIT_AT:
        return [transformer.feed(bytes(chunk))]
    first = transformer.feed(bytes(chunk[:SPLIT_AT]))
    rest = memoryview(chunk)[SPLIT_AT:]
    if transformer.passing_through:
        return [first, rest]
    return [first, transformer.feed(bytes(rest))]


def origin_form(raw_target: str) -> str:
    """Return the path and query of a request target, dropping the scheme and authority of absolute-form."""
    if raw_target.startswith("/"):
        return raw_target
    if raw_target == "*":
        return "/"
    return URL(raw_target).raw_path_qs


def _error_kind(error: BaseException) -> str:
    """Classify an upstream failure for metrics and the choice between 502 and 504."""
    if isinstance(error, UpstreamError):
        return error.kind
    return "other"


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

