"""Tests of the procurement workflow over HTTP: vendors, purchase orders, submission, approval, rejection, cancellation."""

from __future__ import annotations

import pytest

from .conftest import MakeClient
from .helpers import VALID_ORDER, VALID_VENDOR, cell, errors, fetch


async def test_workflow_vendor_to_approval(client: MakeClient) -> None:
    clerk = await client("clerk")
    approver = await client("approver")

    assert (await fetch(clerk, "POST", "/vendors/new", VALID_VENDOR))[:2] == (302, "/vendors/4")
    status, _, vendor_page = await fetch(clerk, "GET", "/vendors/4")
    assert status == 200
    assert cell(vendor_page, "vendor_name") == "Łódź Papier Sp. z o.o."
    assert cell(vendor_page, "vendor_tax_id") == "PL123456789"
    assert '<A HREF="/po/new?vendor=4" ID="raise_order">' in vendor_page

    order_form = {**VALID_ORDER, "vendor": "4"}
    assert (await fetch(clerk, "POST", "/po/new", order_form))[:2] == (302, "/po/4")
    _, _, draft = await fetch(clerk, "GET", "/po/4")
    assert cell(draft, "po_status") == "Draft"
    assert cell(draft, "po_vendor") == '<A HREF="/vendors/4">Łódź Papier Sp. z o.o.</A>'
    assert cell(draft, "po_total") == "598.80 €"
    assert cell(draft, "po_delivery_date") == "2099-12-31"
    assert '<FORM METHOD="POST" ACTION="/po/4/submit" NAME="submit_form">' in draft
    assert '<INPUT TYPE="submit" VALUE="Submit for approval" ID="submit_po">' in draft

    assert (await fetch(clerk, "POST", "/po/4/submit"))[:2] == (302, "/po/4")
    _, _, submitted = await fetch(approver, "GET", "/po/4")
    assert cell(submitted, "po_status") == "Submitted"
    assert '<TEXTAREA NAME="comment" ID="comment" ROWS=3 COLS=40></TEXTAREA>' in submitted
    assert '<INPUT TYPE="submit" VALUE="Approve" ID="approve">' in submitted
    assert '<INPUT TYPE="submit" VALUE="Reject" ID="reject">' in submitted

    assert (await fetch(approver, "POST", "/po/4/approve", {"comment": "Fine."}))[:2] == (302, "/po/4")
    _, _, approved = await fetch(clerk, "GET", "/po/4")
    assert cell(approved, "po_status") == "Approved"
    assert cell(approved, "po_decision_note") == "Fine."
    assert 'ID="submit_po"' not in approved
    assert 'ID="cancel_po"' not in approved
    history = cell(approved, "order_history")
    assert [line.split("</TD><TD>")[1:3] for line in history.splitlines() if line.startswith("<TR><TD>")] == [
        ["clerk", "created"],
        ["clerk", "submitted"],
        ["approver", "approved"],
    ]


async def test_workflow_reject(client: MakeClient) -> None:
    approver = await client("approver")

    status, _, page = await fetch(approver, "POST", "/po/2/reject", {"reason": "   "})
    assert status == 200
    assert errors(page) == ["Please enter a reason for the rejection."]
    assert cell(page, "po_status") == "Submitted"

    assert (await fetch(approver, "POST", "/po/2/reject", {"reason": "Too expensive, ask for a second quote."}))[:2] == (
        302,
        "/po/2",
    )
    _, _, rejected = await fetch(approver, "GET", "/po/2")
    assert cell(rejected, "po_status") == "Rejected"
    assert cell(rejected, "po_decision_note") == "Too expensive, ask for a second quote."


async def test_workflow_cancel(client: MakeClient) -> None:
    clerk = await client("clerk")

    status, _, confirmation = await fetch(clerk, "GET", "/po/1/cancel")
    assert status == 200
    assert '<FORM METHOD="POST" ACTION="/po/1/cancel" NAME="cancel_form">' in confirmation
    assert '<INPUT TYPE="submit" VALUE="Cancel order" ID="confirm_cancel">' in confirmation
    assert '<A HREF="/po/1" ID="keep_order">Keep order</A>' in confirmation

    assert (await fetch(clerk, "POST", "/po/1/cancel"))[:2] == (302, "/po/1")
    _, _, cancelled = await fetch(clerk, "GET", "/po/1")
    assert cell(cancelled, "po_status") == "Cancelled"

    status, _, again = await fetch(clerk, "POST", "/po/1/cancel")
    assert status == 200
    assert errors(again) == ["Only draft or submitted orders can be cancelled. This order is cancelled."]


@pytest.mark.parametrize(
    ("username", "path", "message"),
    [
        pytest.param("clerk", "/po/2/submit", "Only draft orders can be submitted. This order is submitted.", id="submit-twice"),
        pytest.param("approver", "/po/1/approve", "Only submitted orders can be approved. This order is draft.", id="approve-draft"),
        pytest.param("approver", "/po/3/reject", "Only submitted orders can be rejected. This order is approved.", id="reject-approved"),
        pytest.param("clerk", "/po/3/cancel", "Only draft or submitted orders can be cancelled. This order is approved.", id="cancel-approved"),
    ],
)
async def test_order_action_wrong_status(client: MakeClient, username: str, path: str, message: str) -> None:
    session = await client(username)
    status, _, page = await fetch(session, "POST", path, {"reason": "any"})
    assert status == 200
    assert errors(page) == [message]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"name": ""}, ["Vendor name is required."], id="name-missing"),
        pytest.param({"name": "x" * 81}, ["Vendor name must be at most 80 characters."], id="name-long"),
        pytest.param({"name": "nordwind logistik ag"}, ["A vendor named nordwind logistik ag already exists."], id="name-taken"),
        pytest.param({"tax_id": ""}, ["Tax ID is required."], id="tax-id-missing"),
        pytest.param({"tax_id": "DE12345678"}, ["Tax ID must be 2 letters followed by 9 digits, e.g. DE123456789."], id="tax-id-short"),
        pytest.param({"tax_id": "123456789DE"}, ["Tax ID must be 2 letters followed by 9 digits, e.g. DE123456789."], id="tax-id-order"),
        pytest.param({"email": ""}, ["E-mail address is required."], id="email-missing"),
        pytest.param({"email": "biuro.example"}, ["E-mail address must look like name@example.com."], id="email-no-at"),
        pytest.param(
            {"name": "", "tax_id": "x", "email": "y"},
            [
                "Vendor name is required.",
                "Tax ID must be 2 letters followed by 9 digits, e.g. DE123456789.",
                "E-mail address must look like name@example.com.",
            ],
            id="all-fields",
        ),
    ],
)
async def test_create_vendor_invalid(client: MakeClient, changes: dict[str, str], expected: list[str]) -> None:
    clerk = await client("clerk")
    status, location, page = await fetch(clerk, "POST", "/vendors/new", {**VALID_VENDOR, **changes})
    assert (status, location) == (200, "")
    assert errors(page) == expected
    _, _, vendors = await fetch(clerk, "GET", "/vendors")
    assert cell(vendors, "vendor_list").count("<TR><TD>") == 3


async def test_create_vendor_invalid_keeps_values(client: MakeClient) -> None:
    clerk = await client("clerk")
    _, _, page = await fetch(clerk, "POST", "/vendors/new", {"name": 'Smith & "Sons"', "tax_id": "bad", "email": "a@b.example"})
    assert '<INPUT TYPE="text" NAME="name" ID="name" VALUE="Smith &amp; &quot;Sons&quot;" SIZE=40 MAXLENGTH=80>' in page
    assert '<INPUT TYPE="text" NAME="tax_id" ID="tax_id" VALUE="bad" SIZE=15>' in page
    assert '<FONT COLOR="red" CLASS="error" ID="error_tax_id">' in page


async def test_create_vendor_normalises_tax_id(client: MakeClient) -> None:
    clerk = await client("clerk")
    assert (await fetch(clerk, "POST", "/vendors/new", {**VALID_VENDOR, "tax_id": " pl123456789 "}))[:2] == (302, "/vendors/4")
    _, _, page = await fetch(clerk, "GET", "/vendors/4")
    assert cell(page, "vendor_tax_id") == "PL123456789"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"vendor": ""}, ["Please choose a vendor."], id="vendor-missing"),
        pytest.param({"vendor": "99"}, ["The chosen vendor does not exist."], id="vendor-unknown"),
        pytest.param({"vendor": "one"}, ["The chosen vendor does not exist."], id="vendor-not-number"),
        pytest.param({"description": ""}, ["Description is required."], id="description-missing"),
        pytest.param({"quantity": "0"}, ["Quantity must be a whole number from 1 to 99999."], id="quantity-zero"),
        pytest.param({"quantity": "1.5"}, ["Quantity must be a whole number from 1 to 99999."], id="quantity-fraction"),
        pytest.param({"unit_price": "12,50"}, ["Unit price must be an amount above 0 with at most 2 decimals, e.g. 12.50."], id="price-comma"),
        pytest.param({"unit_price": "0.00"}, ["Unit price must be an amount above 0 with at most 2 decimals, e.g. 12.50."], id="price-zero"),
        pytest.param({"cost_center": "471"}, ["Cost center must be exactly 4 digits, e.g. 4711."], id="cost-center-short"),
        pytest.param({"cost_center": "47A1"}, ["Cost center must be exactly 4 digits, e.g. 4711."], id="cost-center-letter"),
        pytest.param(
            {"delivery_date": "31.12.2099"},
            ["Delivery date must be a date in the form YYYY-MM-DD, e.g. 2030-06-30."],
            id="date-german",
        ),
        pytest.param(
            {"delivery_date": "2099-02-30"},
            ["Delivery date must be a date in the form YYYY-MM-DD, e.g. 2030-06-30."],
            id="date-impossible",
        ),
        pytest.param({"delivery_date": "2000-01-01"}, ["Delivery date must not be in the past."], id="date-past"),
        pytest.param(
            {"cost_center": "", "delivery_date": ""},
            [
                "Cost center must be exactly 4 digits, e.g. 4711.",
                "Delivery date must be a date in the form YYYY-MM-DD, e.g. 2030-06-30.",
            ],
            id="two-fields",
        ),
    ],
)
async def test_raise_order_invalid(client: MakeClient, changes: dict[str, str], expected: list[str]) -> None:
    clerk = await client("clerk")
    status, location, page = await fetch(clerk, "POST", "/po/new", {**VALID_ORDER, **changes})
    assert (status, location) == (200, "")
    assert errors(page) == expected
    assert (await fetch(clerk, "GET", "/po/4"))[0] == 404


async def test_raise_order_invalid_keeps_values(client: MakeClient) -> None:
    clerk = await client("clerk")
    _, _, page = await fetch(clerk, "POST", "/po/new", {**VALID_ORDER, "vendor": "2", "cost_center": "12"})
    assert '<OPTION VALUE="2" SELECTED>Nordwind Logistik AG</OPTION>' in page
    assert '<INPUT TYPE="text" NAME="cost_center" ID="cost_center" VALUE="12" SIZE=6>' in page
    assert '<INPUT TYPE="text" NAME="description" ID="description" VALUE="Toner cartridges" SIZE=50 MAXLENGTH=200>' in page
    assert '<FONT COLOR="red" CLASS="error" ID="error_cost_center">' in page


async def test_order_form_preselects_vendor(client: MakeClient) -> None:
    clerk = await client("clerk")
    status, _, page = await fetch(clerk, "GET", "/po/new?vendor=3")
    assert status == 200
    assert '<OPTION VALUE="3" SELECTED>Café Crème Catering</OPTION>' in page
    assert '<FORM METHOD="POST" ACTION="/po/new" NAME="order_form">' in page
    for field in ("description", "quantity", "unit_price", "cost_center", "delivery_date"):
        assert f'NAME="{field}" ID="{field}"' in page
    assert '<INPUT TYPE="submit" VALUE="Save" ID="save">' in page
    assert '<A HREF="/po" ID="cancel">Cancel</A>' in page


@pytest.mark.parametrize(
    ("query", "orders"),
    [
        pytest.param("", ["PO 3", "PO 2", "PO 1"], id="all"),
        pytest.param("?status=Submitted", ["PO 2"], id="submitted"),
        pytest.param("?status=Rejected", [], id="none-match"),
        pytest.param("?status=bogus", ["PO 3", "PO 2", "PO 1"], id="unknown-status"),
    ],
)
async def test_order_list_filter(client: MakeClient, query: str, orders: list[str]) -> None:
    session = await client("approver")
    status, _, page = await fetch(session, "GET", "/po" + query)
    assert status == 200
    listed = [line.split('">')[1].split("</A>")[0] for line in cell(page, "order_list").splitlines() if 'HREF="/po/' in line]
    assert listed == orders


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("/po/99", "Purchase order 99 does not exist.", id="order"),
        pytest.param("/vendors/99", "Vendor 99 does not exist.", id="vendor"),
        pytest.param("/po/99/cancel", "Purchase order 99 does not exist.", id="cancel"),
        pytest.param("/nothing/here", "The page /nothing/here does not exist.", id="route"),
        pytest.param("/po/1234567890", "The page /po/1234567890 does not exist.", id="id-too-long"),
    ],
)
async def test_not_found_pages(client: MakeClient, path: str, message: str) -> None:
    clerk = await client("clerk")
    status, _, page = await fetch(clerk, "GET", path)
    assert status == 404
    assert '<FONT COLOR="red" CLASS="error" ID="error_not_found">' + message + "</FONT>" in page
    assert cell(page, "whoami") == "Signed in as Carla Clerk (Purchasing clerk)"


async def test_home_lists_work_per_role(client: MakeClient) -> None:
    clerk = await client("clerk")
    approver = await client("approver")
    _, _, clerk_home = await fetch(clerk, "GET", "/home")
    assert "<H3>Your draft orders</H3>" in clerk_home
    assert '<A HREF="/po/1">PO 1</A>' in cell(clerk_home, "home_orders")
    _, _, approver_home = await fetch(approver, "GET", "/home")
    assert "<H3>Orders awaiting your approval</H3>" in approver_home
    assert '<A HREF="/po/2">PO 2</A>' in cell(approver_home, "home_orders")
    assert "PO 1<" not in cell(approver_home, "home_orders")
