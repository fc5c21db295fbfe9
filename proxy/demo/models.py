"""Vendors and purchase orders of the demo app, the order states and the transitions between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from proxy.demo.accounts import Permission


class OrderStatus(StrEnum):
    """The state of a purchase order; the value is the text the pages show."""

    DRAFT = "Draft"
    SUBMITTED = "Submitted"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    CANCELLED = "Cancelled"


class OrderAction(StrEnum):
    """A step that moves a purchase order to another state; the value is the last URL segment."""

    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Transition:
    """The rule of one order action: the permission it needs, the states it starts from, the state it leads to, and its past participle."""

    permission: Permission
    from_statuses: frozenset[OrderStatus]
    to_status: OrderStatus
    participle: str


TRANSITIONS: dict[OrderAction, Transition] = {
    OrderAction.SUBMIT: Transition(
        Permission.SUBMIT_ORDER, frozenset({OrderStatus.DRAFT}), OrderStatus.SUBMITTED, "submitted"
    ),
    OrderAction.APPROVE: Transition(
        Permission.DECIDE_ORDER, frozenset({OrderStatus.SUBMITTED}), OrderStatus.APPROVED, "approved"
    ),
    OrderAction.REJECT: Transition(
        Permission.DECIDE_ORDER, frozenset({OrderStatus.SUBMITTED}), OrderStatus.REJECTED, "rejected"
    ),
    OrderAction.CANCEL: Transition(
        Permission.CANCEL_ORDER,
        frozenset({OrderStatus.DRAFT, OrderStatus.SUBMITTED}),
        OrderStatus.CANCELLED,
        "cancelled",
    ),
}


def transition_error(action: OrderAction, status: OrderStatus) -> str | None:
    """Return why `action` cannot be taken on an order in `status`, or None if it can."""
    transition = TRANSITIONS[action]
    if status in transition.from_statuses:
        return None
    allowed = " or ".join(sorted(str(candidate).lower() for candidate in transition.from_statuses))
    return f"Only {allowed} orders can be {transition.participle}. This order is {str(status).lower()}."


@dataclass(frozen=True)
class VendorDraft:
    """A checked vendor form, ready to be stored."""

    name: str
    tax_id: str
    email: str


@dataclass(frozen=True)
class Vendor:
    id: int
    name: str
    tax_id: str
    email: str
    created_by: str


@dataclass(frozen=True)
class OrderDraft:
    """A checked purchase-order form, ready to be stored."""

    vendor_id: int
    description: str
    quantity: int
    unit_price_cents: int
    cost_center: str
    delivery_date: date


@dataclass(frozen=True)
class PurchaseOrder:
    id: int
    vendor_id: int
    vendor_name: str
    description: str
    quantity: int
    unit_price_cents: int
    cost_center: str
    delivery_date: date
    status: OrderStatus
    created_by: str
    decision_note: str

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an order's history: when, who (user name) and what happened."""

    at: str
    actor: str
    action: str
    note: str


@dataclass(frozen=True)
class SummaryRow:
    """One row of a report: a group label, the number of orders and their total value."""

    label: str
    orders: int
    total_cents: int


def format_money(cents: int) -> str:
    """Format an amount in euro cents as the pages show it, e.g. 125000 as "1,250.00 €"."""
    return f"{Decimal(cents) / 100:,.2f} €"
