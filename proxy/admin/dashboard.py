"""The adoption dashboard under `<prefix>admin/`: the HTML report, its tables as CSV, and JSON."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from urllib.parse import urlencode

from aiohttp import web

from proxy.admin.auth import ADMIN_COOKIE, AdminAuth
from proxy.analytics.html import render_dashboard
from proxy.analytics.models import Report
from proxy.analytics.render import render_json, render_table_csv
from proxy.analytics.reports import DAY, ReportQuery, build_report, day_start
from proxy.analytics.specs import Specs
from proxy.analytics.tables import table
from proxy.config import App, Config
from proxy.errors import GuidegateError
from proxy.events import EventStore
from proxy.runtime.endpoints import RouteTable

logger = logging.getLogger(__name__)

NO_STORE = "no-store"


class Dashboard:
    """Serves the reports to admins; everyone else gets 401 (no credential) or 403 (wrong one)."""

    def __init__(
        self,
        config: Config,
        auth: AdminAuth,
        store: Callable[[], EventStore],
        specs: Callable[[App], Specs],
        today: Callable[[], datetime.date] | None = None,
    ) -> None:
        self._config = config
        self._auth = auth
        self._store = store
        self._specs = specs
        self._today = today or (lambda: datetime.datetime.now(datetime.timezone.utc).date())

    def register(self, routes: RouteTable) -> None:
        """Serve the dashboard at `<prefix>admin/` and below."""
        routes.add("admin", self._redirect_to_folder)
        routes.add_tree("admin", self.handle)

    async def _redirect_to_folder(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(self._config.prefix + "admin/" + (f"?{request.query_string}" if request.query_string else ""))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Check admin access, then serve the page, a CSV table or the JSON report."""
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        if not self._auth.enabled:
            return _text(404, "The admin dashboard is off: set admin.token or admin.roles in the configuration.")
        if not self._auth.is_admin(request):
            if self._auth.presented_token(request) is None:
                return _text(401, "Admin access needed: open the dashboard link with its token, or sign in with an admin role.", {"WWW-Authenticate": 'Bearer realm="guidegate"'})
            return _text(403, "The admin token or role was not accepted.")
        if "token" in request.query:
            return self._store_token(request)

        name = request.path[len(self._config.prefix + "admin/") :]
        try:
            app, query = self._query(request)
            report = await build_report(self._store(), self._specs(app), query)
        except (ValueError, GuidegateError) as error:
            return _text(400, f"Invalid report request: {error}")
        if name in ("", "index.html"):
            page = render_dashboard(report, self._csv_link(request))
            return web.Response(text=page, content_type="text/html", charset="utf-8", headers=_private())
        if name == "report.json":
            return web.Response(text=render_json(report), content_type="application/json", headers=_private())
        if name == "table.csv":
            return self._csv(request, report)
        return _text(404, f"No dashboard resource named '{name}'.")

    def _store_token(self, request: web.Request) -> web.StreamResponse:
        """Move a token from the URL into a cookie, so it does not stay in the address bar or history."""
        query = {key: value for key, value in request.query.items() if key != "token"}
        location = request.path + (f"?{urlencode(query)}" if query else "")
        response = web.HTTPFound(location)
        response.set_cookie(
            ADMIN_COOKIE,
            request.query["token"],
            path=self._config.prefix,
            httponly=True,
            samesite="Strict",
            secure=request.scheme == "https",
        )
        return response

    def _query(self, request: web.Request) -> tuple[App, ReportQuery]:
        apps = {app.name: app for app in self._config.apps}
        name = request.query.get("app") or self._config.apps[0].name
        if name not in apps:
            raise ValueError(f"unknown app '{name}'; expected one of: {', '.join(apps)}")
        until_day = _day(request.query.get("until")) or self._today()
        since_day = _day(request.query.get("since")) or until_day - datetime.timedelta(days=self._config.analytics.report_days - 1)
        if since_day > until_day:
            raise ValueError(f"since {since_day} is after until {until_day}; expected since <= until")
        query = ReportQuery(
            app=name,
            since=day_start(since_day),
            until=day_start(until_day) + DAY,
            role=request.query.get("role") or None,
            workflow=request.query.get("workflow") or None,
            go_live=self._config.analytics.go_live,
        )
        return apps[name], query

    def _csv_link(self, request: web.Request) -> Callable[[str], str]:
        base = {key: value for key, value in request.query.items() if key != "table"}

        def link(name: str) -> str:
            return f"{self._config.prefix}admin/table.csv?{urlencode({**base, 'table': name})}"

        return link

    def _csv(self, request: web.Request, report: Report) -> web.StreamResponse:
        name = request.query.get("table", "")
        try:
            current = table(report, name)
        except KeyError as error:
            return _text(400, str(error.args[0]))
        filename = f"{report.app}-{name}.csv"
        return web.Response(
            text=render_table_csv(current),
            content_type="text/csv",
            charset="utf-8",
            headers={**_private(), "Content-Disposition": f'attachment; filename="{filename}"'},
        )


def _day(text: str | None) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid date '{text}'; expected YYYY-MM-DD") from None


def _private() -> dict[str, str]:
    return {"Cache-Control": NO_STORE, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", content_type="text/plain", headers={**_private(), **(headers or {})})

