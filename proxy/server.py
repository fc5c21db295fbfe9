"""The aiohttp application: routing of every request, listeners, start-up and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.config import Config
from proxy.errors import GuidegateError
from proxy.gateway import Gateway

logger = logging.getLogger(__name__)

GATEWAY_KEY: web.AppKey["Gateway"] = web.AppKey("gateway")


def create_app(config: Config, *, configure: Callable[[Gateway], None] | None = None) -> web.Application:
    """Build the aiohttp application serving every app of `config`."""
    gateway = Gateway.build(config)
    if configure is not None:
        configure(gateway)
    application = web.Application(
        middlewares=[_route_unmatched], handler_args={"max_field_size": 16384, "max_line_size": 16384}
    )
    application[GATEWAY_KEY] = gateway
    application.router.add_route("*", "/{tail:.*}", gateway.handle)
    application.on_startup.append(_startup)
    application.on_shutdown.append(_shutdown)
    application.on_cleanup.append(_cleanup)
    return application


@web.middleware
async def _route_unmatched(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hand targets the router cannot match (CONNECT's host:port, `*`) to the gateway as well."""
    if request.match_info.http_exception is not None:
        return await request.app[GATEWAY_KEY].handle(request)
    return await handler(request)


async def _startup(application: web.Application) -> None:
    gateway = application[GATEWAY_KEY]
    await gateway.start()
    logger.info("started with %d app(s): %s", len(gateway.config.apps), ", ".join(app.name for app in gateway.config.apps))


async def _shutdown(application: web.Application) -> None:
    logger.info("shutting down: no new connections, draining requests in flight")


async def _cleanup(application: web.Application) -> None:
    gateway = application[GATEWAY_KEY]
    await gateway.stop()
    logger.info("stopped")


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

    application = create_app(config)
    gateway = application[GATEWAY_KEY]
    # SIGHUP re-reads the rule files at once instead of waiting for the next poll.
    loop.add_signal_handler(signal.SIGHUP, gateway.rules.request_reload)
    # handler_cancellation: a client that disconnects cancels its handler, which closes the upstream
    # connection at once instead of waiting for a silent upstream (a long poll) to time out.
    runner = web.AppRunner(
        application, access_log=None, shutdown_timeout=config.shutdown_timeout, handle_signals=False, handler_cancellation=True
    )
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
    if ready is not None:
        ready(addresses)
    try:
        await stop.wait()
    finally:
        logger.info("signal received; shutting down within %.0f s", config.shutdown_timeout)
        await runner.cleanup()
