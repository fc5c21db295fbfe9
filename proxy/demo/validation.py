"""Server-side checks of the demo app's forms, with the exact messages the pages show."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from proxy.demo.models import OrderDraft, VendorDraft

_ID = re.compile(r"[0-9]{1,9}")
_TAX_ID = re.compile(r"[A-Z]{2}[0-9]{9}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_QUANTITY = re.compile(r"[0-9]{1,5}")
_PRICE = re.compile(r"[0-9]{1,7}(\.[0-9]{1,2})?")
_COST_CENTER = re.compile(r"[0-9]{4}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MAX_NAME = 80
MAX_DESCRIPTION = 200
MAX_NOTE = 500


@dataclass(frozen=True)
class FieldError:
    """A failed check: the form field it concerns and the message for the user."""

    field: str
    message: str


def check_vendor(form: Mapping[str, str], name_exists: Callable[[str], bool]) -> VendorDraft | list[FieldError]:
    """Check the new-vendor form (fields name, tax_id, email).

    Returns the vendor to store, or every error found in field order. `name_exists` returns whether
    a vendor already has a name, because vendor names must be unique.
    """
    errors: list[FieldError] = []
    name = form.get("name", "").strip()
    tax_id = form.get("tax_id", "").strip().upper()
    email = form.get("email", "").strip()

    if not name:
        errors.append(FieldError("name", "Vendor name is required."))
    elif len(name) > MAX_NAME:
        errors.append(FieldError("name", f"Vendor name must be at most {MAX_NAME} characters."))
    elif name_exists(name):
        errors.append(FieldError("name", f"A vendor named {name} already exists."))

    if not tax_id:
        errors.append(FieldError("tax_id", "Tax ID is required."))
    elif not _TAX_ID.fullmatch(tax_id):
        errors.append(FieldError("tax_id", "Tax ID must be 2 letters followed by 9 digits, e.g. DE123456789."))

    if not email:
        errors.append(FieldError("email", "E-mail address is required."))
    elif not _EMAIL.fullmatch(email):
        errors.append(FieldError("email", "E-mail address must look like name@example.com."))

    if errors:
        return errors
    return VendorDraft(name=name, tax_id=tax_id, email=email)


def check_order(
    form: Mapping[str, str], vendor_exists: Callable[[int], bool], today: date
) -> OrderDraft | list[FieldError]:
    """Check the new-purchase-order form.

    Fields: vendor (a vendor id), description, quantity, unit_price, cost_center and
    delivery_date. Returns the order to store, or every error found in field order. A delivery
    date before `today` is an error.
    """
    errors: list[FieldError] = []
    vendor = form.get("vendor", "").strip()
    description = form.get("description", "").strip()
    quantity = form.get("quantity", "").strip()
    unit_price = form.get("unit_price", "").strip()
    cost_center = form.get("cost_center", "").strip()
    delivery_date = form.get("delivery_date", "").strip()

    vendor_id = 0
    if not vendor:
        errors.append(FieldError("vendor", "Please choose a vendor."))
    elif not _ID.fullmatch(vendor) or not vendor_exists(int(vendor)):
        errors.append(FieldError("vendor", "The chosen vendor does not exist."))
    else:
        vendor_id = int(vendor)

    if not description:
        errors.append(FieldError("description", "Description is required."))
    elif len(description) > MAX_DESCRIPTION:
        errors.append(FieldError("description", f"Description must be at most {MAX_DESCRIPTION} characters."))

    if not _QUANTITY.fullmatch(quantity) or int(quantity) < 1:
        errors.append(FieldError("quantity", "Quantity must be a whole number from 1 to 99999."))

    price_cents = 0
    if _PRICE.fullmatch(unit_price):
        price_cents = int(Decimal(unit_price) * 100)
    if price_cents < 1:
        errors.append(FieldError("unit_price", "Unit price must be an amount above 0 with at most 2 decimals, e.g. 12.50."))

    if not _COST_CENTER.fullmatch(cost_center):
        errors.append(FieldError("cost_center", "Cost center must be exactly 4 digits, e.g. 4711."))

    delivery = _parse_date(delivery_date)
    if delivery is None:
        errors.append(FieldError("delivery_date", "Delivery date must be a date in the form YYYY-MM-DD, e.g. 2030-06-30."))
    elif delivery < today:
        errors.append(FieldError("delivery_date", "Delivery date must not be in the past."))

    if errors or delivery is None:
        return errors
    return OrderDraft(
        vendor_id=vendor_id,
        description=description,
        quantity=int(quantity),
        unit_price_cents=price_cents,
        cost_center=cost_center,
        delivery_date=delivery,
    )


def check_note(form: Mapping[str, str], field: str, required_message: str | None) -> str | list[FieldError]:
    """Check a free-text note such as a rejection reason; `required_message` makes it mandatory."""
    note = form.get(field, "").strip()
    if not note and required_message is not None:
        return [FieldError(field, required_message)]
    if len(note) > MAX_NOTE:
        return [FieldError(field, f"The text must be at most {MAX_NOTE} characters.")]
    return note


def _parse_date(text: str) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
