"""Guidegate's own routes under the reserved prefix: health, metrics and status."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from proxy import __version__
from proxy.config import Config
from proxy.forward import Upstreams
from proxy.headers import is_trusted
from proxy.metrics import Metrics

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReservedRoutes:
    """Dispatches paths under the prefix to handlers registered by name (the part after the prefix)."""

    def __init__(self, config: Config, metrics: Metrics, upstreams: Upstreams) -> None:
        self._config = config
        self._metrics = metrics
        self._upstreams = upstreams
        self._started = time.time()
        self._handlers: dict[str, Handler] = {}
        self._prefix_handlers: dict[str, Handler] = {}
        self.status_sections: dict[str, Callable[[], dict[str, Any]]] = {}
        self.is_admin: Callable[[web.Request], bool] = lambda request: False
        """Tells whether a request comes from an admin; the gateway sets it once admin access exists."""
        self.add("healthz", self.healthz)
        self.add("metrics", self.metrics)
        self.add("status", self.status)

    def add(self, name: str, handler: Handler) -> None:
        """Serve `handler` at exactly `<prefix><name>`."""
        self._handlers[name] = handler

    def add_tree(self, name: str, handler: Handler) -> None:
        """Serve `handler` at `<prefix><name>/` and every path below it."""
        self._prefix_handlers[name.rstrip("/") + "/"] = handler

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Handle a request whose path starts with the prefix."""
        rest = request.path[len(self._config.prefix) :]
        handler = self._handlers.get(rest)
        if handler is None:
            for start, tree in self._prefix_handlers.items():
                if rest.startswith(start):
                    handler = tree
                    break
        if handler is None:
            raise web.HTTPNotFound(text=f"No Guidegate resource at {request.path}.\n")
        return await handler(request)

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        """Report liveness; with `?check=upstreams`, also whether each upstream responds."""
        if request.query.get("check") != "upstreams":
            return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})
        results = await asyncio.gather(*(self._probe(app.name, app.upstream) for app in self._config.apps))
        healthy = all(result["ok"] for result in results)
        body = {"status": "ok" if healthy else "degraded", "upstreams": results}
        return web.json_response(body, status=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    async def _probe(self, app: str, url: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with self._upstreams.session(app).get(url, timeout=timeout, allow_redirects=False) as response:
                status = response.status
            return {"app": app, "ok": status < 500, "status": status, "ms": round((time.perf_counter() - started) * 1000, 1)}
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            logger.warning("app %s: health probe of %s failed: %s", app, url, error)
            return {"app": app, "ok": False, "error": type(error).__name__}

    def _monitor_denied(self, request: web.Request, resource: str) -> web.Response | None:
        """Return a 403 unless the peer is in admin.monitor_networks or the request comes from an admin."""
        if is_trusted(request.remote, self._config.admin.monitor_networks) or self.is_admin(request):
            return None
        logger.warning("%s request from %s rejected: not in admin.monitor_networks and not an admin", resource, request.remote)
        return web.Response(
            status=403,
            text=(
                f"Guidegate's {resource} are served to peers in admin.monitor_networks and to admins; "
                f"{request.remote} is neither. Add its network to admin.monitor_networks or send the admin token.\n"
            ),
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        """Serve the Prometheus text format to monitors and admins."""
        denied = self._monitor_denied(request, "metrics")
        if denied is not None:
            return denied
        return web.Response(body=self._metrics.render(), headers={"Content-Type": self._metrics.content_type, "Cache-Control": "no-store"})

    async def status(self, request: web.Request) -> web.StreamResponse:
        """Serve a JSON summary to monitors and admins: version, uptime, apps, and the sections other parts register."""
        denied = self._monitor_denied(request, "status details")
        if denied is not None:
            return denied
        body: dict[str, Any] = {
            "version": __version__,
            "uptime_seconds": round(time.time() - self._started, 1),
            "apps": [{"name": app.name, "upstream": app.upstream, "path_prefix": app.path_prefix} for app in self._config.apps],
        }
        for name, section in self.status_sections.items():
            body[name] = section()
        return web.Response(text=json.dumps(body, indent=2, default=str), content_type="application/json", headers={"Cache-Control": "no-store"})
