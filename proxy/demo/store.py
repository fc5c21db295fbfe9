"""The demo app's data store: vendors, purchase orders and their history in SQLite, reset on open."""

from __future__ import annotations

import logging
import sqlite3
from datetime import date, datetime, timedelta
from typing import Any

from proxy.demo.models import (
    HistoryEntry,
    OrderDraft,
    OrderStatus,
    PurchaseOrder,
    SummaryRow,
    Vendor,
    VendorDraft,
)
from proxy.errors import GuidegateError

logger = logging.getLogger(__name__)

_SCHEMA = """
DROP TABLE IF EXISTS order_history;
DROP TABLE IF EXISTS purchase_order;
DROP TABLE IF EXISTS vendor;
CREATE TABLE vendor (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    email TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE purchase_order (
    id INTEGER PRIMARY KEY,
    vendor_id INTEGER NOT NULL REFERENCES vendor (id),
    description TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    cost_center TEXT NOT NULL,
    delivery_date TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    decision_note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE order_history (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES purchase_order (id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    note TEXT NOT NULL
);
"""

SEED_VENDORS: tuple[VendorDraft, ...] = (
    VendorDraft("Müller Bürobedarf GmbH", "DE123456789", "bestellung@mueller-buero.example"),
    VendorDraft("Nordwind Logistik AG", "DE987654321", "orders@nordwind.example"),
    VendorDraft("Café Crème Catering", "FR412345678", "contact@cafe-creme.example"),
)
"""Vendors present after every start; their non-ASCII names exercise the windows-1252 vendor list."""

_ORDER_COLUMNS = """
    purchase_order.id, vendor_id, vendor.name, description, quantity, unit_price_cents, cost_center,
    delivery_date, status, purchase_order.created_by, decision_note
"""


class Store:
    """Vendors, purchase orders and order history of one app instance.

    `open()` drops whatever the database file held and seeds fresh data, so every start of the
    demo app begins from the same state. With no path the database lives in memory. Calls are
    synchronous and block the event loop while they run. The demo's tables hold a few dozen rows,
    so each query is short.
    """

    def __init__(self, database_path: str | None = None) -> None:
        self._path = database_path or ":memory:"
        self._connection: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("the demo store is not open; call open() first")
        return self._connection

    def open(self, today: date) -> None:
        """Create the tables (dropping old ones) and seed vendors and orders dated from `today`.

        Raises GuidegateError if the database cannot be opened or written.
        """
        try:
            self._connection = sqlite3.connect(self._path)
            self._connection.execute("PRAGMA foreign_keys = ON")
            self._connection.executescript(_SCHEMA)
            self._seed(today)
        except sqlite3.Error as error:
            logger.error("demo store at %s could not be opened: %s", self._path, error)
            self.close()
            raise GuidegateError(
                f"The demo database {self._path} could not be opened: {error}. "
                "Choose a writable file path, or none to keep the data in memory."
            ) from error
        logger.info("demo store opened at %s with seed data", self._path)

    def close(self) -> None:
        """Close the database; calling it twice is harmless."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            logger.info("demo store at %s closed", self._path)

    def _seed(self, today: date) -> None:
        vendor_ids = [self.add_vendor(draft, "clerk").id for draft in SEED_VENDORS]
        self.add_order(
            OrderDraft(vendor_ids[0], "Printer paper A4, 80 g/m², 500 sheets", 40, 495, "4711", today + timedelta(days=14)),
            "clerk",
        )
        transport = self.add_order(
            OrderDraft(vendor_ids[1], "Pallet transport Hamburg to Munich", 3, 38000, "5200", today + timedelta(days=21)),
            "clerk",
        )
        self.change_status(transport.id, OrderStatus.SUBMITTED, "clerk", "submitted", "")
        catering = self.add_order(
            OrderDraft(vendor_ids[2], "Catering for the works meeting", 1, 125000, "4711", today + timedelta(days=30)),
            "clerk",
        )
        self.change_status(catering.id, OrderStatus.SUBMITTED, "clerk", "submitted", "")
        self.change_status(catering.id, OrderStatus.APPROVED, "approver", "approved", "Within budget.")

    def vendors(self) -> list[Vendor]:
        """Return every vendor, ordered by name."""
        rows = self._db.execute("SELECT id, name, tax_id, email, created_by FROM vendor ORDER BY name COLLATE NOCASE")
        return [Vendor(*row) for row in rows]

    def vendor(self, vendor_id: int) -> Vendor | None:
        """Return the vendor with `vendor_id`, or None."""
        row = self._db.execute(
            "SELECT id, name, tax_id, email, created_by FROM vendor WHERE id = ?", (vendor_id,)
        ).fetchone()
        return None if row is None else Vendor(*row)

    def vendor_name_exists(self, name: str) -> bool:
        """Return whether a vendor has this name, ignoring ASCII case."""
        row = self._db.execute("SELECT 1 FROM vendor WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
        return row is not None

    def add_vendor(self, draft: VendorDraft, actor: str) -> Vendor:
        """Store a new vendor created by user `actor` and return it with its id."""
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO vendor (name, tax_id, email, created_by) VALUES (?, ?, ?, ?)",
                (draft.name, draft.tax_id, draft.email, actor),
            )
        vendor_id = cursor.lastrowid
        if vendor_id is None:
            raise RuntimeError("SQLite returned no id for the new vendor")
        logger.info("vendor %d created by %s", vendor_id, actor)
        return Vendor(vendor_id, draft.name, draft.tax_id, draft.email, actor)

    def orders(self, status: OrderStatus | None = None, vendor_id: int | None = None) -> list[PurchaseOrder]:
        """Return purchase orders, newest first, optionally only those in `status` or for `vendor_id`."""
        query = f"SELECT {_ORDER_COLUMNS} FROM purchase_order JOIN vendor ON vendor.id = vendor_id WHERE 1 = 1"
        parameters: list[object] = []
        if status is not None:
            query += " AND status = ?"
            parameters.append(str(status))
        if vendor_id is not None:
            query += " AND vendor_id = ?"
            parameters.append(vendor_id)
        rows = self._db.execute(query + " ORDER BY purchase_order.id DESC", parameters)
        return [_order_from_row(row) for row in rows]

    def order(self, order_id: int) -> PurchaseOrder | None:
        """Return the purchase order with `order_id`, or None."""
        row = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM purchase_order JOIN vendor ON vendor.id = vendor_id"
            " WHERE purchase_order.id = ?",
            (order_id,),
        ).fetchone()
        return None if row is None else _order_from_row(row)

    def add_order(self, draft: OrderDraft, actor: str) -> PurchaseOrder:
        """Store a new draft purchase order raised by user `actor` and return it."""
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO purchase_order (vendor_id, description, quantity, unit_price_cents, cost_center,"
                " delivery_date, status, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    draft.vendor_id,
                    draft.description,
                    draft.quantity,
                    draft.unit_price_cents,
                    draft.cost_center,
                    draft.delivery_date.isoformat(),
                    str(OrderStatus.DRAFT),
                    actor,
                ),
            )
            order_id = cursor.lastrowid
            if order_id is None:
                raise RuntimeError("SQLite returned no id for the new purchase order")
            self._record(order_id, actor, "created", "")
        logger.info("purchase order %d created by %s", order_id, actor)
        order = self.order(order_id)
        if order is None:
            raise RuntimeError(f"purchase order {order_id} vanished right after it was stored")
        return order

    def change_status(self, order_id: int, status: OrderStatus, actor: str, action: str, note: str) -> None:
        """Set the status of an order and record `action` by `actor` with `note` in its history.

        A non-empty note also becomes the order's decision note (the approval comment or the
        rejection reason).
        """
        with self._db:
            if note:
                self._db.execute(
                    "UPDATE purchase_order SET status = ?, decision_note = ? WHERE id = ?", (str(status), note, order_id)
                )
            else:
                self._db.execute("UPDATE purchase_order SET status = ? WHERE id = ?", (str(status), order_id))
            self._record(order_id, actor, action, note)
        logger.info("purchase order %d %s by %s", order_id, action, actor)

    def _record(self, order_id: int, actor: str, action: str, note: str) -> None:
        at = datetime.now().strftime("%Y-%m-%d %H:%M")
        self._db.execute(
            "INSERT INTO order_history (order_id, at, actor, action, note) VALUES (?, ?, ?, ?, ?)",
            (order_id, at, actor, action, note),
        )

    def history(self, order_id: int) -> list[HistoryEntry]:
        """Return the history of an order, oldest first."""
        rows = self._db.execute(
            "SELECT at, actor, action, note FROM order_history WHERE order_id = ? ORDER BY id", (order_id,)
        )
        return [HistoryEntry(*row) for row in rows]

    def totals_by_status(self) -> list[SummaryRow]:
        """Return the number and value of orders per status, in workflow order, statuses without orders included."""
        found = {
            status: (count, total)
            for status, count, total in self._db.execute(
                "SELECT status, COUNT(*), SUM(quantity * unit_price_cents) FROM purchase_order GROUP BY status"
            )
        }
        return [SummaryRow(str(status), *found.get(str(status), (0, 0))) for status in OrderStatus]

    def totals_by_cost_center(self) -> list[SummaryRow]:
        """Return the number and value of open or approved orders per cost center."""
        return self._summary("cost_center")

    def totals_by_vendor(self) -> list[SummaryRow]:
        """Return the number and value of open or approved orders per vendor."""
        return self._summary("vendor.name")

    def _summary(self, column: str) -> list[SummaryRow]:
        rows = self._db.execute(
            f"SELECT {column}, COUNT(*), SUM(quantity * unit_price_cents) FROM purchase_order"
            " JOIN vendor ON vendor.id = vendor_id WHERE status IN (?, ?, ?)"
            f" GROUP BY {column} ORDER BY {column}",
            (str(OrderStatus.DRAFT), str(OrderStatus.SUBMITTED), str(OrderStatus.APPROVED)),
        )
        return [SummaryRow(*row) for row in rows]


def _order_from_row(row: tuple[Any, ...]) -> PurchaseOrder:
    order_id, vendor_id, vendor_name, description, quantity, price, cost_center, delivery, status, creator, note = row
    return PurchaseOrder(
        id=order_id,
        vendor_id=vendor_id,
        vendor_name=vendor_name,
        description=description,
        quantity=quantity,
        unit_price_cents=price,
        cost_center=cost_center,
        delivery_date=date.fromisoformat(delivery),
        status=OrderStatus(status),
        created_by=creator,
        decision_note=note,
    )
