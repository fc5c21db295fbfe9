"""The demo app's procurement pages: vendor list and form, purchase-order list, form and detail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.demo.accounts import DemoUser, Permission
from proxy.demo.markup import (
    detail_table,
    document,
    error_list,
    escape,
    field_row,
    form,
    link,
    select,
    submit_button,
    table,
    text_input,
    textarea,
)
from proxy.demo.models import (
    TRANSITIONS,
    HistoryEntry,
    OrderAction,
    OrderStatus,
    PurchaseOrder,
    Vendor,
    format_money,
)
from proxy.demo.validation import MAX_DESCRIPTION, MAX_NAME, FieldError

LEGACY_CHARSET = "windows-1252"
"""Charset of the vendor list, declared only by its META tag."""


def vendor_list_page(user: DemoUser, vendors: Sequence[Vendor]) -> str:
    """Render the vendor list; the caller encodes it in windows-1252."""
    rows = [
        [
            str(vendor.id),
            link(f"/vendors/{vendor.id}", vendor.name),
            escape(vendor.tax_id),
            escape(vendor.email),
        ]
        for vendor in vendors
    ]
    new_vendor = ""
    if user.may(Permission.CREATE_VENDOR):
        new_vendor = f"<P>{link('/vendors/new', 'New vendor', link_id='new_vendor')}</P>\n"
    body = (
        '<P ID="price_note">Prices in € – every vendor delivers under our '
        f"{link('/help#terms', 'terms of purchase')}.</P>\n"
        + table("vendor_list", ["No.", "Vendor", "Tax ID", "E-mail"], rows)
        + new_vendor
    )
    return document("Vendors", user, body, meta_charset=LEGACY_CHARSET)


def vendor_page(user: DemoUser, vendor: Vendor, orders: Sequence[PurchaseOrder]) -> str:
    """Render one vendor with its purchase orders."""
    details = detail_table(
        "vendor_details",
        [
            ("Vendor number", "vendor_id", str(vendor.id)),
            ("Name", "vendor_name", escape(vendor.name)),
            ("Tax ID", "vendor_tax_id", escape(vendor.tax_id)),
            ("E-mail", "vendor_email", escape(vendor.email)),
            ("Created by", "vendor_created_by", escape(vendor.created_by)),
        ],
    )
    raise_order = ""
    if user.may(Permission.RAISE_ORDER):
        raise_order = f"<P>{link(f'/po/new?vendor={vendor.id}', 'Raise a purchase order', link_id='raise_order')}</P>\n"
    body = details + raise_order + "<H3>Purchase orders</H3>\n" + _orders_table(orders)
    return document(f"Vendor {vendor.name}", user, body)


def vendor_form_page(user: DemoUser, values: Mapping[str, str], errors: Sequence[FieldError]) -> str:
    """Render the new-vendor form (fields name, tax_id, email; button `save`, link `cancel`)."""
    rows = [
        field_row("Vendor name", "name", text_input("name", values.get("name", ""), size=40, maxlength=MAX_NAME)),
        field_row(
            "Tax ID", "tax_id", text_input("tax_id", values.get("tax_id", ""), size=15), "2 letters and 9 digits"
        ),
        field_row("E-mail", "email", text_input("email", values.get("email", ""), size=40)),
    ]
    buttons = submit_button("save", "Save") + " " + link("/vendors", "Cancel", link_id="cancel")
    body = error_list(errors) + form("/vendors/new", "vendor_form", rows, buttons)
    return document("New vendor", user, body)


def order_list_page(user: DemoUser, orders: Sequence[PurchaseOrder], status: OrderStatus | None) -> str:
    """Render the purchase-order list with its status filter (a GET form, field status)."""
    options = [("", "All")] + [(str(candidate), str(candidate)) for candidate in OrderStatus]
    status_filter = (
        '<FORM METHOD="GET" ACTION="/po" NAME="filter_form">Status: '
        + select("status", options, "" if status is None else str(status))
        + " "
        + submit_button("filter", "Show")
        + "</FORM>\n"
    )
    new_order = ""
    if user.may(Permission.RAISE_ORDER):
        new_order = f"<P>{link('/po/new', 'New purchase order', link_id='new_order')}</P>\n"
    body = status_filter + _orders_table(orders) + new_order
    return document("Purchase orders", user, body)


def _orders_table(orders: Sequence[PurchaseOrder]) -> str:
    rows = [
        [
            link(f"/po/{order.id}", f"PO {order.id}"),
            escape(order.vendor_name),
            escape(order.description),
            escape(format_money(order.total_cents)),
            escape(order.cost_center),
            order.delivery_date.isoformat(),
            escape(order.status),
        ]
        for order in orders
    ]
    headers = ["Order", "Vendor", "Description", "Total", "Cost center", "Delivery", "Status"]
    return table("order_list", headers, rows)


def order_form_page(
    user: DemoUser, vendors: Sequence[Vendor], values: Mapping[str, str], errors: Sequence[FieldError]
) -> str:
    """Render the new-purchase-order form.

    Fields vendor, description, quantity, unit_price, cost_center and delivery_date; button
    `save`, link `cancel`.
    """
    vendor_options = [("", "-- choose a vendor --")] + [(str(vendor.id), vendor.name) for vendor in vendors]
    rows = [
        field_row("Vendor", "vendor", select("vendor", vendor_options, values.get("vendor", ""))),
        field_row(
            "Description",
            "description",
            text_input("description", values.get("description", ""), size=50, maxlength=MAX_DESCRIPTION),
        ),
        field_row("Quantity", "quantity", text_input("quantity", values.get("quantity", ""), size=6)),
        field_row("Unit price", "unit_price", text_input("unit_price", values.get("unit_price", ""), size=10), "EUR, e.g. 12.50"),
        field_row("Cost center", "cost_center", text_input("cost_center", values.get("cost_center", ""), size=6), "4 digits"),
        field_row(
            "Delivery date", "delivery_date", text_input("delivery_date", values.get("delivery_date", ""), size=12), "YYYY-MM-DD"
        ),
    ]
    buttons = submit_button("save", "Save") + " " + link("/po", "Cancel", link_id="cancel")
    body = error_list(errors) + form("/po/new", "order_form", rows, buttons)
    return document("New purchase order", user, body)


def order_page(
    user: DemoUser,
    order: PurchaseOrder,
    history: Sequence[HistoryEntry],
    values: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] = (),
) -> str:
    """Render one purchase order, the actions this user may take on it now, and its history.

    `values` and `errors` come from a rejected approval or rejection form, shown again.
    """
    details = detail_table(
        "order_details",
        [
            ("Order number", "po_id", str(order.id)),
            ("Vendor", "po_vendor", link(f"/vendors/{order.vendor_id}", order.vendor_name)),
            ("Description", "po_description", escape(order.description)),
            ("Quantity", "po_quantity", str(order.quantity)),
            ("Unit price", "po_unit_price", escape(format_money(order.unit_price_cents))),
            ("Total", "po_total", escape(format_money(order.total_cents))),
            ("Cost center", "po_cost_center", escape(order.cost_center)),
            ("Delivery date", "po_delivery_date", order.delivery_date.isoformat()),
            ("Status", "po_status", escape(order.status)),
            ("Raised by", "po_created_by", escape(order.created_by)),
            ("Decision note", "po_decision_note", escape(order.decision_note)),
        ],
    )
    history_rows = [[escape(entry.at), escape(entry.actor), escape(entry.action), escape(entry.note)] for entry in history]
    body = (
        details
        + error_list(errors)
        + _order_actions(user, order, values or {})
        + "<H3>History</H3>\n"
        + table("order_history", ["When", "Who", "What", "Note"], history_rows)
    )
    return document(f"Purchase order {order.id}", user, body)


def _may(user: DemoUser, order: PurchaseOrder, action: OrderAction) -> bool:
    transition = TRANSITIONS[action]
    return user.may(transition.permission) and order.status in transition.from_statuses


def _order_actions(user: DemoUser, order: PurchaseOrder, values: Mapping[str, str]) -> str:
    parts: list[str] = []
    if _may(user, order, OrderAction.SUBMIT):
        parts.append(form(f"/po/{order.id}/submit", "submit_form", [], submit_button("submit_po", "Submit for approval")))
    if _may(user, order, OrderAction.APPROVE):
        rows = [field_row("Comment", "comment", textarea("comment", values.get("comment", "")), "optional")]
        parts.append(form(f"/po/{order.id}/approve", "approve_form", rows, submit_button("approve", "Approve")))
    if _may(user, order, OrderAction.REJECT):
        rows = [field_row("Reason", "reason", textarea("reason", values.get("reason", "")), "required")]
        parts.append(form(f"/po/{order.id}/reject", "reject_form", rows, submit_button("reject", "Reject")))
    if _may(user, order, OrderAction.CANCEL):
        parts.append(f"<P>{link(f'/po/{order.id}/cancel', 'Cancel this order', link_id='cancel_po')}</P>\n")
    return "".join(parts)


def cancel_page(user: DemoUser, order: PurchaseOrder, errors: Sequence[FieldError] = ()) -> str:
    """Render the confirmation for cancelling an order (button `confirm_cancel`, link `keep_order`)."""
    question = (
        f"<P>Cancel purchase order {order.id} ({escape(order.description)}, "
        f"{escape(format_money(order.total_cents))})? This cannot be undone.</P>\n"
    )
    buttons = submit_button("confirm_cancel", "Cancel order") + " " + link(f"/po/{order.id}", "Keep order", link_id="keep_order")
    body = error_list(errors) + question + form(f"/po/{order.id}/cancel", "cancel_form", [], buttons)
    return document(f"Cancel purchase order {order.id}", user, body)
