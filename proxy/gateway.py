"""The Gateway: every part of one server process wired together, and the handler every request enters."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import secrets
from dataclasses import dataclass, field

from aiohttp import web
from yarl import URL

from proxy.admin.auth import AdminAuth
from proxy.admin.dashboard import Dashboard
from proxy.analytics.specs import Specs, specs_from_rules
from proxy.capture import Capture
from proxy.collectors import GatewayCollector
from proxy.completions import Completions
from proxy.config import App, Config
from proxy.errorpages import error_response
from proxy.events import EventStore, EventWriter, create_store
from proxy.forward import Exchange, Forwarder, Upstreams, origin_form
from proxy.headers import client_view
from proxy.identity import HeaderGuard
from proxy.injection import Injector
from proxy.metrics import Metrics
from proxy.reserved import ReservedRoutes
from proxy.routing import Router, has_dot_segment
from proxy.ruleset import sources_from_config
from proxy.ruleset.watcher import RuleWatcher
from proxy.runtime import MemoryStateStore, RequestContext, RulesetPages, RuntimeEndpoints, RuntimeRequestError
from proxy.runtime.assets import runtime_version
from proxy.tasks import BackgroundTasks
from proxy.visitors import Visitors

logger = logging.getLogger(__name__)


@dataclass
class Gateway:
    """Everything one server process holds; built from a Config, started and stopped with the app."""

    config: Config
    router: Router
    upstreams: Upstreams
    metrics: Metrics
    forwarder: Forwarder
    reserved: ReservedRoutes
    guard: HeaderGuard
    visitors: Visitors
    rules: RuleWatcher
    store: EventStore
    writer: EventWriter
    admin: AdminAuth
    runtime: RuntimeEndpoints
    capture: Capture
    completions: Completions
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)
    _request_ids: RequestIds = field(default_factory=lambda: RequestIds())

    @classmethod
    def build(cls, config: Config) -> Gateway:
        """Wire the parts; raise GuidegateError (identity files, rule files, store) so the server refuses to start."""
        metrics = Metrics()
        tasks = BackgroundTasks()
        upstreams = Upstreams(config)
        router = Router(config)
        rules = RuleWatcher(sources_from_config(config))
        rules.load_initial()
        visitors = Visitors(config, metrics, tasks)
        store = create_store(config.storage, config.base_dir)
        writer = EventWriter(store, config.storage)
        completions = Completions()
        submit = writer.submit

        capture = Capture(rules, visitors.for_exchange, submit, metrics, tasks, completed=completions.note)
        injector = Injector(config, metrics, runtime_version())
        forwarder = Forwarder(config, upstreams, metrics, hooks=[visitors, injector, capture])
        reserved = ReservedRoutes(config, metrics, upstreams)
        gateway = cls(
            config=config,
            router=router,
            upstreams=upstreams,
            metrics=metrics,
            forwarder=forwarder,
            reserved=reserved,
            guard=HeaderGuard.from_config(config),
            visitors=visitors,
            rules=rules,
            store=store,
            writer=writer,
            # The lambda runs per request, after `gateway` below exists.
            admin=AdminAuth(config, roles_of=lambda request: gateway.runtime_context(request).roles),
            runtime=None,  # type: ignore[arg-type]  # set right below; it needs the gateway's resolve
            capture=capture,
            completions=completions,
            tasks=tasks,
        )
        prefixes = {app.name: app.path_prefix for app in config.apps}
        pages = RulesetPages(
            lambda: rules.ruleset,
            completed_workflows=lambda context: completions.completed(context.app, context.visitor),
            path_prefix=prefixes.__getitem__,
        )
        gateway.runtime = RuntimeEndpoints(
            config.prefix,
            resolve=gateway.runtime_context,
            page_config=pages.page_config,
            preview_guide=pages.preview_guide,
            submit=submit,
            state=MemoryStateStore(),
            is_admin=gateway.admin.is_admin,
        )
        reserved.is_admin = gateway.admin.is_admin
        gateway.runtime.register(reserved)
        metrics.registry.register(GatewayCollector(rules, writer, lambda: gateway.runtime.counts))
        Dashboard(config, gateway.admin, lambda: store, gateway.specs).register(reserved)
        reserved.status_sections["rules"] = lambda: _rule_status(rules)
        reserved.status_sections["events"] = lambda: dataclasses.asdict(writer.stats())
        return gateway

    def specs(self, app: App) -> Specs:
        """Return what the reports of `app` are about, from the rule set in force."""
        return specs_from_rules(self.rules.ruleset, app.name)

    async def start(self) -> None:
        """Open upstream pools, the event writer and the rule watcher."""
        await self.upstreams.start()
        await self.writer.start()
        self.tasks.spawn("rule-watcher", self.rules.watch())

    async def stop(self) -> None:
        """Flush accepted events, stop background work and close the upstream pools."""
        # Classifications still running submit their events before the writer stops taking them.
        await self.capture.drain(timeout=self.config.shutdown_timeout)
        await self.writer.close(timeout=self.config.shutdown_timeout)
        await self.tasks.close()
        await self.upstreams.close()

    def runtime_context(self, request: web.Request) -> RequestContext:
        """Resolve a runtime request (under the prefix) to its app and visitor."""
        name = request.query.get("app", "")
        host = request.headers.get("Host", "")
        apps = [route.app for route in self.router.routes_for_host(host)]
        app = next((candidate for candidate in apps if candidate.name == name), None)
        if app is None:
            raise RuntimeRequestError(404, f"no app named '{name}' is served on host '{host}'; expected the app of the page's script tag")
        # The scheme the browser used, so that a TLS-terminating proxy in front still gets Secure cookies.
        scheme = client_view(request.headers, request.remote, request.scheme, self.config.trusted_proxies).scheme
        identity = self.visitors.resolve(request, app.name, scheme == "https")
        return RequestContext(app=app.name, visitor=identity.visitor_id, roles=identity.roles, set_cookie=identity.set_cookie)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Handle any request: reject what no app serves, serve the prefix, forward the rest."""
        request_id = self._request_ids.next()
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

        # Identity headers from anyone but a trusted proxy go nowhere: not to Guidegate, not upstream.
        headers = self.guard.strip_untrusted(request.headers, request.remote)
        if headers is not request.headers:
            request = request.clone(headers=headers)

        # The decoded path decides, so that an encoded prefix is not forwarded; most targets need no decoding.
        path = raw_target if raw_target.startswith("/") and "%" not in raw_target else request.path
        if "Expect" in request.headers:
            rejected = await expect_continue(request, accept, request_id)
            if rejected is not None:
                return rejected

        if path.startswith(self.config.prefix):
            return await self.reserved.dispatch(request)

        # The raw path, because the forwarded path is cut from it: a decoded path such as '/erp/'
        # for '/%65rp/' would pick the app but cut the wrong number of characters.
        raw_path = origin_form(raw_target).split("?", 1)[0]
        route = self.router.route(host, raw_path)
        if route is None:
            return error_response(404, "Not Found", f"No app is configured for path '{raw_path}' on host '{host}'.", accept, request_id)

        view = client_view(request.headers, request.remote, request.scheme, self.config.trusted_proxies)
        exchange = Exchange(request=request, route=route, app=route.app, view=view, request_id=request_id)
        return await self.forwarder.forward(exchange)


async def expect_continue(request: web.Request, accept: str, request_id: str) -> web.StreamResponse | None:
    """Send an interim 100 Continue for `Expect: 100-continue`, so the client sends its body.

    Return a 417 response for any other expectation, None otherwise. The Expect
    header itself is not forwarded, so the upstream receives a plain request with a body.
    """
    expectation = request.headers.get("Expect", "").strip().lower()
    if expectation != "100-continue":
        return error_response(
            417, "Expectation Failed", f"The expectation '{expectation}' is not supported; only '100-continue' is.", accept, request_id
        )
    if request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        # The interim response is not part of the response body's size.
        request.writer.output_size = 0
    return None


class RequestIds:
    """Unique request ids without a system call each: a random per-process prefix and a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):08x}"


def _rule_status(rules: RuleWatcher) -> dict[str, object]:
    stats = rules.stats
    return {
        "rules_loaded": stats.rules_loaded,
        "files_loaded": stats.files_loaded,
        "reloads": stats.reloads,
        "reload_errors": stats.reload_errors,
        "last_good_load": stats.last_good_load,
        "last_errors": list(stats.last_errors),
    }
