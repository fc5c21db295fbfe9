"""A small legacy procurement app on loopback, mounted under /legacy/, for the capture and ground-truth tests.

It responds as old server-rendered apps do: a form POST either redirects to the new order or shows
the form again with errors, the pages that workflow steps check are gzip-compressed whatever the
client accepts, and `/legacy/echo` returns the headers and cookies it received as JSON.
"""

from __future__ import annotations

import gzip
import itertools
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

LocationStyle = Literal["absolute-url", "absolute-path", "relative"]

RULES = """\
workflows:
  - id: raise-po
    title: Raise a purchase order
    window: 30m
    steps:
      - {name: open, path: /po/new, methods: GET}
      - name: submit
        path: /po/new
        methods: POST
        fields: [vendor, currency]
        allow_values: [currency]
        success: {status: 302, redirect: "/po/{id:int}"}
        failure: {status: 200, body: {selector: ".form-errors li"}}
      - name: confirm
        path: "/po/{id:int}"
        methods: GET
        success: {body: {text: Waiting for approval}}
    exclusions:
      - {name: cancel, path: /po/new/cancel}
  - id: book-invoice
    title: Book an invoice
    steps:
      - name: post
        path: /invoices/new
        methods: POST
        fields: [invoice_no]
        success: {body: {text: Invoice booked}}
        failure: {body: {regex: "(?i)invalid|missing"}}
features:
  - id: po-export
    title: Export orders
    requests: {path: /po/export, query: {format: "re:csv|xlsx"}}
"""
"""Rule file of the app: paths below its mount point, without the public /erp/ or upstream /legacy/ prefix."""

FORM_PAGE = """<!DOCTYPE html>
<html><head><title>New purchase order</title></head><body>
{errors}<form method="post" action="/legacy/po/new">
<input name="vendor"> <input name="currency"> <button>Save</button>
</form></body></html>
"""


@dataclass
class ProcurementSite:
    """State of the app: how it writes Location headers, and the requests it received."""

    location_style: LocationStyle = "absolute-path"
    origin: str = ""
    received: list[tuple[str, str]] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(7))

    def application(self) -> web.Application:
        application = web.Application()
        routes = [
            web.get("/legacy/po/new", self.form),
            web.post("/legacy/po/new", self.submit),
            web.get("/legacy/po/new/cancel", self.cancel),
            web.get("/legacy/po/export", self.export),
            web.get(r"/legacy/po/{id:\d+}", self.order),
            web.post("/legacy/invoices/new", self.invoice),
            web.route("*", "/legacy/echo", self.echo),
        ]
        application.add_routes(routes)
        return application

    def _location(self, path: str) -> str:
        if self.location_style == "absolute-url":
            return self.origin + path
        if self.location_style == "relative":
            return path.rsplit("/", 1)[1]
        return path

    async def form(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path))
        return web.Response(text=FORM_PAGE.format(errors=""), content_type="text/html")

    async def submit(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path))
        form = await request.post()
        if not form.get("vendor"):
            errors = '<ul class="form-errors"><li>Vendor is required</li></ul>\n'
            return gzipped(FORM_PAGE.format(errors=errors))
        number = next(self._numbers)
        raise web.HTTPFound(self._location(f"/legacy/po/{number}"))

    async def order(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path))
        return gzipped(f"<html><body><h1>PO-{request.match_info['id']}</h1><p>Waiting for approval</p></body></html>")

    async def cancel(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path))
        raise web.HTTPFound("/legacy/po")

    async def export(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path))
        return web.Response(text="number,vendor\n7,Acme\n", content_type="text/csv")

    async def invoice(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path))
        form = await request.post()
        number = str(form.get("invoice_no", ""))
        if not number.isdigit():
            return gzipped("<html><body><p class=error>Invoice number is INVALID</p></body></html>")
        return gzipped(f"<html><body><p>Invoice booked as {number}</p></body></html>")

    async def echo(self, request: web.Request) -> web.Response:
        body = {"headers": [[name, value] for name, value in request.headers.items()], "cookies": dict(request.cookies)}
        return web.json_response(body)


def gzipped(html: str) -> web.Response:
    """An HTML response compressed with gzip, as a server with forced compression sends it."""
    response = web.Response(body=gzip.compress(html.encode("utf-8")), content_type="text/html", charset="utf-8")
    response.headers["Content-Encoding"] = "gzip"
    return response
