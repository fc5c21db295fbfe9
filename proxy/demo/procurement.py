"""Request handlers for the procurement workflow: vendors, purchase orders and their approval."""

from __future__ import annotations

import logging
from datetime import date

from aiohttp import web

from proxy.demo.accounts import Permission
from proxy.demo.context import PageNotFound, demo_store, read_form, require_permission, require_user
from proxy.demo.models import TRANSITIONS, OrderAction, OrderStatus, PurchaseOrder, transition_error
from proxy.demo.order_pages import (
    cancel_page,
    order_form_page,
    order_list_page,
    order_page,
    vendor_form_page,
    vendor_list_page,
    vendor_page,
)
from proxy.demo.responses import html_page, redirect, windows_1252_page
from proxy.demo.validation import FieldError, check_note, check_order, check_vendor

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()

_STATUS_NAMES = frozenset(str(status) for status in OrderStatus)

# At most 9 digits, so that every id in a URL fits an SQLite integer.
_ID = r"{id:[0-9]{1,9}}"


@routes.get("/vendors")
async def vendor_list(request: web.Request) -> web.Response:
    """Send the vendor list in windows-1252, with the charset declared only in a META tag."""
    user = require_user(request)
    return windows_1252_page(vendor_list_page(user, demo_store(request).vendors()))


@routes.get("/vendors/new")
async def vendor_form(request: web.Request) -> web.Response:
    user = require_permission(request, Permission.CREATE_VENDOR)
    return html_page(vendor_form_page(user, {}, []))


@routes.post("/vendors/new")
async def create_vendor(request: web.Request) -> web.Response:
    """Create a vendor from the fields name, tax_id and email: 302 to /vendors/{id}, or 200 with errors."""
    user = require_permission(request, Permission.CREATE_VENDOR)
    form = await read_form(request)
    store = demo_store(request)
    checked = check_vendor(form, store.vendor_name_exists)
    if isinstance(checked, list):
        _log_rejected_form("vendor form", user.username, checked)
        return html_page(vendor_form_page(user, form, checked))
    vendor = store.add_vendor(checked, user.username)
    return redirect(f"/vendors/{vendor.id}")


@routes.get(f"/vendors/{_ID}")
async def vendor_details(request: web.Request) -> web.Response:
    user = require_user(request)
    store = demo_store(request)
    vendor_id = int(request.match_info["id"])
    vendor = store.vendor(vendor_id)
    if vendor is None:
        raise PageNotFound(f"Vendor {vendor_id} does not exist.")
    return html_page(vendor_page(user, vendor, store.orders(vendor_id=vendor_id)))


@routes.get("/po")
async def order_list(request: web.Request) -> web.Response:
    """Show the purchase orders, filtered by `?status=Submitted` (any status name). An unknown status shows all."""
    user = require_user(request)
    requested = request.query.get("status", "")
    status = OrderStatus(requested) if requested in _STATUS_NAMES else None
    return html_page(order_list_page(user, demo_store(request).orders(status), status))


@routes.get("/po/new")
async def order_form(request: web.Request) -> web.Response:
    """Show the new-purchase-order form, with the vendor from `?vendor=ID` preselected."""
    user = require_permission(request, Permission.RAISE_ORDER)
    values = {"vendor": request.query.get("vendor", "")}
    return html_page(order_form_page(user, demo_store(request).vendors(), values, []))


@routes.post("/po/new")
async def raise_order(request: web.Request) -> web.Response:
    """Raise a draft purchase order: 302 to /po/{id}, or 200 with errors."""
    user = require_permission(request, Permission.RAISE_ORDER)
    form = await read_form(request)
    store = demo_store(request)
    checked = check_order(form, lambda vendor_id: store.vendor(vendor_id) is not None, date.today())
    if isinstance(checked, list):
        _log_rejected_form("purchase-order form", user.username, checked)
        return html_page(order_form_page(user, store.vendors(), form, checked))
    order = store.add_order(checked, user.username)
    return redirect(f"/po/{order.id}")


@routes.get(f"/po/{_ID}")
async def order_details(request: web.Request) -> web.Response:
    user = require_user(request)
    order = _find_order(request)
    return html_page(order_page(user, order, demo_store(request).history(order.id)))


@routes.get(f"/po/{_ID}/cancel")
async def cancel_confirmation(request: web.Request) -> web.Response:
    """Ask whether to cancel the order. Confirming sends a POST to the same URL."""
    user = require_permission(request, Permission.CANCEL_ORDER)
    order = _find_order(request)
    error = transition_error(OrderAction.CANCEL, order.status)
    errors = [] if error is None else [FieldError("status", error)]
    return html_page(cancel_page(user, order, errors))


@routes.post(f"/po/{_ID}/submit")
async def submit_order(request: web.Request) -> web.Response:
    return await _change_order(request, OrderAction.SUBMIT)


@routes.post(f"/po/{_ID}/approve")
async def approve_order(request: web.Request) -> web.Response:
    return await _change_order(request, OrderAction.APPROVE)


@routes.post(f"/po/{_ID}/reject")
async def reject_order(request: web.Request) -> web.Response:
    return await _change_order(request, OrderAction.REJECT)


@routes.post(f"/po/{_ID}/cancel")
async def cancel_order(request: web.Request) -> web.Response:
    return await _change_order(request, OrderAction.CANCEL)


async def _change_order(request: web.Request, action: OrderAction) -> web.Response:
    """Take `action` on the order in the URL: 302 to /po/{id}, or 200 with the errors on the order's page.

    Approving takes an optional field comment, rejecting a required field reason.
    """
    transition = TRANSITIONS[action]
    user = require_permission(request, transition.permission)
    order = _find_order(request)
    form = await read_form(request)

    errors: list[FieldError] = []
    state_error = transition_error(action, order.status)
    if state_error is not None:
        errors.append(FieldError("status", state_error))
    note: str | list[FieldError] = ""
    if action is OrderAction.APPROVE:
        note = check_note(form, "comment", None)
    elif action is OrderAction.REJECT:
        note = check_note(form, "reason", "Please enter a reason for the rejection.")
    if isinstance(note, list):
        errors.extend(note)
        note = ""

    store = demo_store(request)
    if errors:
        _log_rejected_form(f"{action} of purchase order {order.id}", user.username, errors)
        if action is OrderAction.CANCEL:
            return html_page(cancel_page(user, order, errors))
        return html_page(order_page(user, order, store.history(order.id), form, errors))
    store.change_status(order.id, transition.to_status, user.username, transition.participle, note)
    return redirect(f"/po/{order.id}")


def _log_rejected_form(form_name: str, username: str, errors: list[FieldError]) -> None:
    # Field names only: the values are what users typed and stay out of the log.
    fields = ", ".join(error.field for error in errors)
    logger.info("demo %s from %s rejected, invalid fields: %s", form_name, username, fields)


def _find_order(request: web.Request) -> PurchaseOrder:
    order_id = int(request.match_info["id"])
    order = demo_store(request).order(order_id)
    if order is None:
        raise PageNotFound(f"Purchase order {order_id} does not exist.")
    return order
