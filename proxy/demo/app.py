"""The demo legacy app as an aiohttp application, and a function that starts it on a listener."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from datetime import date
from typing import NamedTuple

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.demo import handlers, procurement
from proxy.demo.accounts import Sessions
from proxy.demo.compression import compress_html
from proxy.demo.context import (
    SESSIONS_KEY,
    STORE_KEY,
    AccessDenied,
    LoginRequired,
    PageNotFound,
    signed_in_user,
)
from proxy.demo.pages import forbidden_page, not_found_page
from proxy.demo.responses import html_page, redirect
from proxy.demo.store import Store
from proxy.errors import GuidegateError

logger = logging.getLogger(__name__)


def create_demo_app(database_path: str | None = None) -> web.Application:
    """Build the demo app. Its data lives in SQLite at `database_path` (in memory if None).

    The store is emptied and seeded again each time the application starts, and sessions live in
    memory, so every start begins with the seed data and no open session.
    """
    app = web.Application(middlewares=[compress_html, _render_failures])
    app[STORE_KEY] = Store(database_path)
    app[SESSIONS_KEY] = Sessions()
    app.cleanup_ctx.append(_open_store)
    app.add_routes(handlers.routes)
    app.add_routes(procurement.routes)
    return app


async def _open_store(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE_KEY]
    store.open(date.today())
    yield
    store.close()


@web.middleware
async def _render_failures(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn the handlers' access and lookup failures into a redirect, a 403 page or a 404 page."""
    try:
        return await handler(request)
    except LoginRequired:
        return redirect("/login")
    except AccessDenied as denied:
        return html_page(forbidden_page(denied.user, denied.permission), status=403)
    except PageNotFound as missing:
        return html_page(not_found_page(signed_in_user(request), missing.message), status=404)
    except web.HTTPNotFound:
        return html_page(not_found_page(signed_in_user(request), f"The page {request.path} does not exist."), status=404)


class DemoServer(NamedTuple):
    """A running demo app: its runner and its base URL (no trailing slash)."""

    runner: web.AppRunner
    url: str

    async def stop(self) -> None:
        """Stop listening, close the store and wait for open requests to end."""
        await self.runner.cleanup()
        logger.info("demo app at %s stopped", self.url)


async def start_demo(host: str = "127.0.0.1", port: int = 0, *, database_path: str | None = None) -> DemoServer:
    """Start the demo app on `host`:`port`; port 0 picks a free port.

    Raises GuidegateError if the database cannot be opened or the address cannot be bound. Stop the app with `DemoServer.stop()`
    (or `runner.cleanup()`).
    """
    runner = web.AppRunner(create_demo_app(database_path), access_log=None)
    try:
        await runner.setup()
    except GuidegateError:
        await runner.cleanup()
        raise
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise GuidegateError(
            f"The demo app could not listen on {host}:{port}: {reason}. Choose another port, or 0 for a free one."
        ) from error

    bound_host, bound_port = runner.addresses[0][:2]
    authority = f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
    server = DemoServer(runner, f"http://{authority}")
    logger.info("demo app listening at %s", server.url)
    return server
