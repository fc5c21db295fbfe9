"""A test site for the runtime: pages that load it, its endpoints and fixed rules, served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.config import Config
from proxy.events.model import Event
from proxy.forward import Upstreams
from proxy.metrics import Metrics
from proxy.reserved import ReservedRoutes
from proxy.rewrite.snippet import build_snippet
from proxy.ruleset import RuleSet, load_rule_paths
from proxy.runtime import MemoryStateStore, RequestContext, RulesetPages, RuntimeEndpoints, RuntimeRequestError

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Page = str | PageHandler
"""A page: HTML text in which `{snippet}` stands for the runtime's script tag, or a handler."""

VISITOR_COOKIE = "gg_visitor"
ROLES_COOKIE = "gg_roles"
ADMIN_COOKIE = "gg_admin"

_APP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class TestSite:
    """Serves `/{app}/...` test pages with the runtime's tag, and the runtime endpoints under `/__guidegate/`.

    The visitor is the `gg_visitor` cookie (set on first use), roles come from `gg_roles`
    (comma-separated) and `gg_admin=1` makes an admin, so a browser context chooses who it is.
    Page configs come from each app's rule file, with the `/{app}` part of the path removed.
    """

    __test__ = False

    def __init__(self, config: Config, rules_dir: Path, **options: Any) -> None:
        self.config = config
        self.rules_dir = rules_dir
        self.url = ""
        self.events: list[Event] = []
        self.rulesets: dict[str, RuleSet] = {}
        self.pages: dict[tuple[str, str], Page] = {}
        self.completed: dict[str, set[str]] = {}
        self.target_wait: dict[str, float] = {}
        self.config_requests: dict[str, int] = {}
        self.state = MemoryStateStore()
        self.reserved = ReservedRoutes(config, Metrics(), Upstreams(config))
        self.endpoints = RuntimeEndpoints(
            config.prefix,
            resolve=self.resolve,
            page_config=self.page_config,
            preview_guide=self.preview_guide,
            submit=self.submit,
            state=self.state,
            is_admin=lambda request: request.cookies.get(ADMIN_COOKIE) == "1",
            **options,
        )
        self.endpoints.register(self.reserved)
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        application = web.Application()
        application.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(application, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def add_app(
        self, app: str, rules: str, pages: Mapping[str, Page], *, completed: set[str] | None = None, target_wait: float | None = None
    ) -> None:
        """Register an app: its rule file text (without `app:`), its pages by path, the workflows its
        visitors have completed, and a `wait` in seconds to put on every target of its page configs."""
        if not _APP.match(app):
            raise ValueError(f"invalid test app name {app!r}")
        path = self.rules_dir / f"{app}.yaml"
        path.write_text(f"app: {app}\n{rules}", encoding="utf-8")
        self.rulesets[app] = load_rule_paths([path])
        for page_path, page in pages.items():
            self.pages[(app, page_path)] = page
        self.completed[app] = completed or set()
        if target_wait is not None:
            self.target_wait[app] = target_wait

    def snippet(self, app: str) -> str:
        return build_snippet(
            origin=self.url, prefix=self.config.prefix, version=self.endpoints.version, app=app, nonce=None, xhtml=False
        ).decode("ascii")

    def page_url(self, app: str, path: str) -> str:
        return f"{self.url}/{app}{path}"

    def events_of(self, app: str, kind: str | None = None) -> list[Event]:
        return [event for event in self.events if event.app == app and (kind is None or event.kind == kind)]

    async def wait_events(self, app: str, kind: str, count: int = 1, timeout: float = 5.0) -> list[Event]:
        """Wait until `count` events of `kind` arrived for `app`, and return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events_of(app, kind)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        return self.events_of(app, kind)

    # The callables RuntimeEndpoints is built with.

    def resolve(self, request: web.Request) -> RequestContext:
        app = request.query.get("app", "")
        if app not in self.rulesets:
            raise RuntimeRequestError(404, f"app: no app '{app}' here")
        visitor = request.cookies.get(VISITOR_COOKIE)
        set_cookie = None
        if visitor is None:
            visitor = secrets.token_hex(8)
            set_cookie = f"{VISITOR_COOKIE}={visitor}; Path=/; HttpOnly; SameSite=Lax"
        roles = frozenset(role for role in request.cookies.get(ROLES_COOKIE, "").split(",") if role)
        return RequestContext(app=app, visitor=f"c-{visitor}", roles=roles, session=None, set_cookie=set_cookie)

    def _pages(self, app: str) -> RulesetPages:
        return RulesetPages(lambda: self.rulesets[app], completed_workflows=lambda context: self.completed[context.app])

    def page_config(self, context: RequestContext, url: str, frame: str) -> dict[str, Any]:
        self.config_requests[context.app] = self.config_requests.get(context.app, 0) + 1
        local = url.removeprefix(f"/{context.app}") or "/"
        config = self._pages(context.app).page_config(context, local, frame)
        wait = self.target_wait.get(context.app)
        if wait is not None:
            # Rule files have no per-target wait yet; the runtime honours `wait` when a config carries it.
            config = copy.deepcopy(config)
            for guide in config["guides"]:
                for holder in [guide, *guide.get("steps", [])]:
                    if holder.get("target"):
                        holder["target"]["wait"] = wait
        return config

    def preview_guide(self, context: RequestContext, guide: str) -> dict[str, Any] | None:
        return self._pages(context.app).preview_guide(context, guide)

    def submit(self, event: Event) -> bool:
        self.events.append(event)
        return True

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith(self.config.prefix):
            return await self.reserved.dispatch(request)
        app, _, rest = request.path.lstrip("/").partition("/")
        page = self.pages.get((app, "/" + rest))
        if page is None:
            raise web.HTTPNotFound(text=f"no test page {request.path}")
        if isinstance(page, str):
            html = page.replace("{snippet}", self.snippet(app))
            return web.Response(text=html, content_type="text/html", charset="utf-8")
        return await page(request)


class Routes:
    """A minimal RouteTable: exact names and name trees under one prefix, as ReservedRoutes dispatches them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.exact: dict[str, PageHandler] = {}
        self.trees: dict[str, PageHandler] = {}

    def add(self, name: str, handler: PageHandler) -> None:
        self.exact[name] = handler

    def add_tree(self, name: str, handler: PageHandler) -> None:
        self.trees[name + "/"] = handler

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        rest = request.path[len(self.prefix) :]
        handler = self.exact.get(rest) or next((tree for start, tree in self.trees.items() if rest.startswith(start)), None)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)


async def serve_endpoints(endpoints: RuntimeEndpoints) -> tuple[str, web.AppRunner]:
    """Serve only `endpoints` on 127.0.0.1; return the prefix's URL and the runner to clean up."""
    routes = Routes(endpoints.prefix)
    endpoints.register(routes)
    application = web.Application()
    application.router.add_route("*", endpoints.prefix + "{tail:.*}", routes.dispatch)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}{endpoints.prefix}", runner
