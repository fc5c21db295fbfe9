"""Request handlers for signing in and out, the frameset, the navigation frame, home, help and reports."""

from __future__ import annotations

import csv
import io
import logging
import re
from decimal import Decimal

from aiohttp import web

from proxy.demo.accounts import SESSION_COOKIE, Permission, authenticate
from proxy.demo.context import (
    SESSIONS_KEY,
    demo_store,
    read_form,
    require_permission,
    require_user,
    signed_in_user,
)
from proxy.demo.models import OrderStatus
from proxy.demo.pages import (
    HOME_PATH,
    frameset_page,
    help_page,
    home_page,
    login_page,
    navigation_page,
    reports_page,
)
from proxy.demo.responses import html_page, redirect
from proxy.demo.validation import FieldError

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()

# A path on this app, with an optional query: what the frameset may load into its main frame.
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9/_.?=&%-]*")


@routes.get("/")
async def frameset(request: web.Request) -> web.Response:
    """Show the main page: a frameset with the menu in frame `nav` and `?main=/path` (default /home) in `main`."""
    user = require_user(request)
    main_path = request.query.get("main", HOME_PATH)
    if not _LOCAL_PATH.fullmatch(main_path):
        main_path = HOME_PATH
    return html_page(frameset_page(user, main_path))


@routes.get("/nav")
async def navigation(request: web.Request) -> web.Response:
    return html_page(navigation_page(require_user(request)))


@routes.get(HOME_PATH)
async def home(request: web.Request) -> web.Response:
    """Show the start page with the clerk's drafts, or with the orders awaiting approval for the other roles."""
    user = require_user(request)
    store = demo_store(request)
    if user.may(Permission.RAISE_ORDER):
        orders = [order for order in store.orders(OrderStatus.DRAFT) if order.created_by == user.username]
    else:
        orders = store.orders(OrderStatus.SUBMITTED)
    return html_page(home_page(user, orders))


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return html_page(login_page(signed_in_user(request), "", []))


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    """Sign in with the fields username and password: 302 to / with a session cookie, or 200 with an error."""
    form = await read_form(request)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    if not username or not password:
        error = FieldError("login", "Please enter your user name and password.")
        return html_page(login_page(signed_in_user(request), username, [error]))

    user = authenticate(username, password)
    if user is None:
        logger.info("demo sign-in failed: unknown user name or wrong password")
        error = FieldError("login", "Unknown user name or wrong password.")
        return html_page(login_page(signed_in_user(request), username, [error]))

    sessions = request.app[SESSIONS_KEY]
    sessions.end(request.cookies.get(SESSION_COOKIE))
    response = redirect("/")
    response.set_cookie(SESSION_COOKIE, sessions.start(user), httponly=True, path="/")
    return response


@routes.get("/logout")
@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    """End the session, delete its cookie and redirect to the sign-in page."""
    request.app[SESSIONS_KEY].end(request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/help")
async def help_and_terms(request: web.Request) -> web.Response:
    """Show the help page, which needs no session."""
    return html_page(help_page(signed_in_user(request)))


@routes.get("/reports")
async def reports(request: web.Request) -> web.Response:
    user = require_permission(request, Permission.VIEW_REPORTS)
    store = demo_store(request)
    page = reports_page(user, store.totals_by_status(), store.totals_by_cost_center(), store.totals_by_vendor())
    return html_page(page)


@routes.get("/reports/orders.csv")
async def orders_csv(request: web.Request) -> web.Response:
    """Send every purchase order as a CSV download (Content-Disposition: attachment)."""
    require_permission(request, Permission.VIEW_REPORTS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        ["order", "vendor", "description", "quantity", "unit_price", "total", "cost_center", "delivery_date", "status", "raised_by"]
    )
    for order in demo_store(request).orders():
        writer.writerow(
            [
                order.id,
                order.vendor_name,
                order.description,
                order.quantity,
                f"{Decimal(order.unit_price_cents) / 100:.2f}",
                f"{Decimal(order.total_cents) / 100:.2f}",
                order.cost_center,
                order.delivery_date.isoformat(),
                order.status,
                order.created_by,
            ]
        )
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
    )
