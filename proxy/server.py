"""The server process: the gateway on aiohttp's low-level server, listeners, start-up and graceful shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import ssl
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from proxy.config import Config
from proxy.errors import GuidegateError
from proxy.gateway import Gateway

logger = logging.getLogger(__name__)

MAX_HEAD_LINE = 16384
"""Maximum length of a request line or header field from clients, in bytes (aiohttp's default is 8190)."""


class GatewayRunner(web.ServerRunner):
    """Runs a Gateway on aiohttp's low-level server: every request goes straight to `Gateway.handle`.

    The low-level server skips aiohttp's router and middleware chain, which a proxy with one
    catch-all handler does not need and which cost several µs per request. Setting the runner up
    starts the gateway; cleaning it up drains requests in flight and then stops the gateway.
    """

    def __init__(self, gateway: Gateway, **options: Any) -> None:
        loop = asyncio.get_running_loop()

        def make_request(
            message: RawRequestMessage, payload: StreamReader, protocol: RequestHandler, writer: AbstractStreamWriter, task: asyncio.Task[None]
        ) -> web.BaseRequest:
            return web.Request(message, payload, protocol, writer, task, loop)

        # handler_cancellation: a client that disconnects cancels its handler, which closes the upstream
        # connection at once instead of waiting for a silent upstream (a long poll) to time out.
        server = web.Server(
            gateway.handle,  # type: ignore[arg-type]  # make_request builds web.Request objects
            request_factory=make_request,
            handler_cancellation=True,
            access_log=None,
            max_field_size=MAX_HEAD_LINE,
            max_line_size=MAX_HEAD_LINE,
        )
        super().__init__(server, **options)
        self.gateway = gateway

    async def _make_server(self) -> web.Server:
        await self.gateway.start()
        apps = self.gateway.config.apps
        logger.info("started with %d app(s): %s", len(apps), ", ".join(app.name for app in apps))
        return await super()._make_server()

    async def shutdown(self) -> None:
        logger.info("shutting down: no new connections, draining requests in flight")

    async def _cleanup_server(self) -> None:
        await self.gateway.stop()
        logger.info("stopped")


def create_runner(
    config: Config, *, configure: Callable[[Gateway], None] | None = None, shutdown_timeout: float | None = None
) -> GatewayRunner:
    """Build the gateway of `config` and a runner for it; call `setup()` to start it. Must run in the event loop."""
    gateway = Gateway.build(config)
    if configure is not None:
        configure(gateway)
    timeout = config.shutdown_timeout if shutdown_timeout is None else shutdown_timeout
    return GatewayRunner(gateway, shutdown_timeout=timeout)


def ssl_context_for(config: Config, certificate: str, key: str) -> ssl.SSLContext:
    """Build a server TLS context from PEM files named in the config."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(config.resolve(certificate)), str(config.resolve(key)))
    return context


async def serve(config: Config, *, reuse_port: bool = False, ready: Callable[[list[str]], None] | None = None) -> None:
    """Run the server until SIGTERM or SIGINT, then drain in-flight requests and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    runner = create_runner(config)
    gateway = runner.gateway
    # SIGHUP re-reads the rule files at once instead of waiting for the next poll.
    loop.add_signal_handler(signal.SIGHUP, gateway.rules.request_reload)
    await runner.setup()
    if runner.server is not None:
        server = runner.server
        gateway.metrics.track_connections(lambda: len(server.connections))
    addresses = []
    try:
        for listener in config.listeners:
            context = ssl_context_for(config, listener.tls.certificate, listener.tls.key) if listener.tls else None
            site = web.TCPSite(runner, listener.host, listener.port, ssl_context=context, reuse_port=reuse_port or None, backlog=1024)
            try:
                await site.start()
            except OSError as error:
                reason = os.strerror(error.errno) if error.errno else str(error)
                raise GuidegateError(
                    f"cannot listen on {listener.host}:{listener.port}: {reason}; "
                    "expected a free port on an address of this machine"
                ) from error
            scheme = "https" if context else "http"
            addresses.append(f"{scheme}://{listener.host}:{listener.port}")
            logger.info("listening on %s", addresses[-1])
    except BaseException:
        await runner.cleanup()
        raise
    # What start-up built (config, rule sets, pools) lives as long as the process: moving it out of the
    # collector's view keeps each collection of short-lived request garbage from scanning it again.
    gc.freeze()
    if ready is not None:
        ready(addresses)
    try:
        await stop.wait()
    finally:
        logger.info("signal received; shutting down within %.0f s", config.shutdown_timeout)
        await runner.cleanup()
