"""The aiohttp application: routing of every request, listeners, start-up and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from proxy.config import Config
from proxy.errorpages import error_response
from proxy.errors import GuidegateError
from proxy.forward import Exchange, Forwarder, Upstreams, origin_form
from proxy.headers import client_view
from proxy.injection import Injector
from proxy.runtime.assets import runtime_version
from proxy.metrics import Metrics
from proxy.reserved import ReservedRoutes
from proxy.routing import Router, has_dot_segment
from proxy.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

GATEWAY_KEY: web.AppKey["Gateway"] = web.AppKey("gateway")


@dataclass
class Gateway:
    """Everything one server process holds: configuration, routing, upstream pools and metrics."""

    config: Config
    router: Router
    upstreams: Upstreams
    metrics: Metrics
    forwarder: Forwarder
    reserved: ReservedRoutes
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)

    @classmethod
    def build(cls, config: Config) -> Gateway:
        """Wire the parts for a configuration; nothing starts until the application does."""
        metrics = Metrics()
        upstreams = Upstreams(config)
        injector = Injector(config, metrics, runtime_version())
        return cls(
            config=config,
            router=Router(config),
            upstreams=upstreams,
            metrics=metrics,
            forwarder=Forwarder(config, upstreams, metrics, hooks=[injector]),
            reserved=ReservedRoutes(config, metrics, upstreams),
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer any request: reject what no app serves, serve the prefix, forward the rest."""
        request_id = secrets.token_hex(8)
        accept = request.headers.get("Accept", "")
        if request.method == "CONNECT":
            return error_response(421, "Misdirected Request", "Guidegate is a reverse proxy and does not open tunnels.", accept, request_id)

        host = request.headers.get("Host", "")
        raw_target = request.raw_path
        if not raw_target.startswith("/") and raw_target != "*":
            # Absolute-form targets must name the same authority as Host (RFC 9112, section 3.2.2).
            authority = URL(raw_target).raw_authority.lower()
            if authority != host.lower():
                return error_response(
                    421, "Misdirected Request", f"This server does not serve {authority}; it only proxies its configured apps.", accept, request_id
                )

        if has_dot_segment(raw_target):
            return error_response(
                400, "Bad Request", "The request path contains '.' or '..' segments; expected a normalized path.", accept, request_id
            )

        if not self.router.host_is_known(host):
            return error_response(404, "Not Found", f"No app is configured for host '{host}'.", accept, request_id)

        if request.path.startswith(self.config.prefix):
            return await self.reserved.dispatch(request)

        # The raw path, because the forwarded path is cut from it: a decoded path such as '/erp/'
        # for '/%65rp/' would pick the app but cut the wrong number of characters.
        raw_path = origin_form(raw_target).split("?", 1)[0]
        route = self.router.route(host, raw_path)
        if route is None:
            return error_response(404, "Not Found", f"No app is configured for path '{raw_path}' on host '{host}'.", accept, request_id)

        peer = request.remote
        view = client_view(request.headers, peer, request.scheme, self.config.trusted_proxies)
        exchange = Exchange(request=request, route=route, view=view, request_id=request_id)
        return await self.forwarder.forward(exchange)


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
    await gateway.upstreams.start()
    logger.info("started with %d app(s): %s", len(gateway.config.apps), ", ".join(app.name for app in gateway.config.apps))


async def _shutdown(application: web.Application) -> None:
    logger.info("shutting down: no new connections, draining requests in flight")


async def _cleanup(application: web.Application) -> None:
    gateway = application[GATEWAY_KEY]
    await gateway.tasks.close()
    await gateway.upstreams.close()
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
    # handler_cancellation: a client that disconnects cancels its handler, which closes the upstream
    # connection at once instead of waiting for a silent upstream (a long poll) to time out.
    runner = web.AppRunner(
        application, access_log=None, shutdown_timeout=config.shutdown_timeout, handle_signals=False, handler_cancellation=True
    )
    await runner.setup()
    gateway = application[GATEWAY_KEY]
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
