"""Tests of the form checks without a server: values that pass, and the exact message for each that fails."""

from __future__ import annotations

from datetime import date

import pytest

from proxy.demo.models import OrderDraft, VendorDraft, transition_error, OrderAction, OrderStatus
from proxy.demo.validation import FieldError, check_note, check_order, check_vendor

TODAY = date(2024, 5, 15)
ORDER = {
    "vendor": "2",
    "description": " Pallets ",
    "quantity": "3",
    "unit_price": "380",
    "cost_center": "5200",
    "delivery_date": "2024-05-15",
}


def _vendor_exists(vendor_id: int) -> bool:
    return vendor_id in (1, 2, 3)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, OrderDraft(2, "Pallets", 3, 38000, "5200", date(2024, 5, 15)), id="delivery-today"),
        pytest.param({"unit_price": "12.5"}, OrderDraft(2, "Pallets", 3, 1250, "5200", date(2024, 5, 15)), id="one-decimal"),
        pytest.param({"unit_price": "0.01"}, OrderDraft(2, "Pallets", 3, 1, "5200", date(2024, 5, 15)), id="one-cent"),
        pytest.param({"quantity": "99999"}, OrderDraft(2, "Pallets", 99999, 38000, "5200", date(2024, 5, 15)), id="max-quantity"),
        pytest.param({"description": "x" * 200}, OrderDraft(2, "x" * 200, 3, 38000, "5200", date(2024, 5, 15)), id="max-description"),
    ],
)
def test_check_order_valid(changes: dict[str, str], expected: OrderDraft) -> None:
    assert check_order({**ORDER, **changes}, _vendor_exists, TODAY) == expected


PRICE = FieldError("unit_price", "Unit price must be an amount above 0 with at most 2 decimals, e.g. 12.50.")
QUANTITY = FieldError("quantity", "Quantity must be a whole number from 1 to 99999.")
DATE_FORMAT = FieldError("delivery_date", "Delivery date must be a date in the form YYYY-MM-DD, e.g. 2030-06-30.")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"vendor": "²"}, [FieldError("vendor", "The chosen vendor does not exist.")], id="vendor-superscript-digit"),
        pytest.param({"vendor": "1234567890"}, [FieldError("vendor", "The chosen vendor does not exist.")], id="vendor-too-long"),
        pytest.param({"description": "x" * 201}, [FieldError("description", "Description must be at most 200 characters.")], id="description-long"),
        pytest.param({"quantity": "100000"}, [QUANTITY], id="quantity-large"),
        pytest.param({"quantity": "-1"}, [QUANTITY], id="quantity-negative"),
        pytest.param({"quantity": ""}, [QUANTITY], id="quantity-missing"),
        pytest.param({"unit_price": "12.505"}, [PRICE], id="price-three-decimals"),
        pytest.param({"unit_price": "-5"}, [PRICE], id="price-negative"),
        pytest.param({"unit_price": "1e3"}, [PRICE], id="price-exponent"),
        pytest.param({"unit_price": "12345678"}, [PRICE], id="price-large"),
        pytest.param({"cost_center": "47111"}, [FieldError("cost_center", "Cost center must be exactly 4 digits, e.g. 4711.")], id="cost-center-long"),
        pytest.param({"delivery_date": "2024-5-16"}, [DATE_FORMAT], id="date-unpadded"),
        pytest.param({"delivery_date": "2024-13-01"}, [DATE_FORMAT], id="date-month-13"),
        pytest.param({"delivery_date": "2024-05-14"}, [FieldError("delivery_date", "Delivery date must not be in the past.")], id="date-yesterday"),
    ],
)
def test_check_order_invalid(changes: dict[str, str], expected: list[FieldError]) -> None:
    assert check_order({**ORDER, **changes}, _vendor_exists, TODAY) == expected


def test_check_vendor_valid() -> None:
    form = {"name": "  ACME  ", "tax_id": "at123456789", "email": "sales@acme.example"}
    assert check_vendor(form, lambda name: False) == VendorDraft("ACME", "AT123456789", "sales@acme.example")


def test_check_vendor_name_taken() -> None:
    form = {"name": "ACME", "tax_id": "AT123456789", "email": "sales@acme.example"}
    assert check_vendor(form, lambda name: name == "ACME") == [FieldError("name", "A vendor named ACME already exists.")]


@pytest.mark.parametrize(
    ("form", "required", "expected"),
    [
        pytest.param({"reason": " Too dear. "}, "Reason needed.", "Too dear.", id="given"),
        pytest.param({}, None, "", id="optional-missing"),
        pytest.param({"reason": ""}, "Reason needed.", [FieldError("reason", "Reason needed.")], id="required-missing"),
        pytest.param({"reason": "x" * 501}, None, [FieldError("reason", "The text must be at most 500 characters.")], id="too-long"),
    ],
)
def test_check_note(form: dict[str, str], required: str | None, expected: object) -> None:
    assert check_note(form, "reason", required) == expected


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        pytest.param(OrderAction.SUBMIT, OrderStatus.DRAFT, None, id="submit-draft"),
        pytest.param(OrderAction.CANCEL, OrderStatus.SUBMITTED, None, id="cancel-submitted"),
        pytest.param(OrderAction.APPROVE, OrderStatus.REJECTED, "Only submitted orders can be approved. This order is rejected.", id="approve-rejected"),
        pytest.param(OrderAction.CANCEL, OrderStatus.REJECTED, "Only draft or submitted orders can be cancelled. This order is rejected.", id="cancel-rejected"),
    ],
)
def test_transition_error(action: OrderAction, status: OrderStatus, expected: str | None) -> None:
    assert transition_error(action, status) == expected
