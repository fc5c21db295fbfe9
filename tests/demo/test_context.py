"""Tests of the role checks: each action a role may not take gets 403 with a page and changes nothing."""

from __future__ import annotations

import pytest

from .conftest import MakeClient
from .helpers import cell, errors, fetch

CLERK_ONLY = "This needs the role Purchasing clerk."


@pytest.mark.parametrize(
    ("username", "method", "path", "message"),
    [
        pytest.param("manager", "GET", "/vendors/new", f"Access denied: a Purchasing manager may not create vendors. {CLERK_ONLY}", id="manager-vendor-form"),
        pytest.param("approver", "POST", "/vendors/new", f"Access denied: a Budget approver may not create vendors. {CLERK_ONLY}", id="approver-create-vendor"),
        pytest.param("manager", "GET", "/po/new", f"Access denied: a Purchasing manager may not raise purchase orders. {CLERK_ONLY}", id="manager-order-form"),
        pytest.param("approver", "POST", "/po/new", f"Access denied: a Budget approver may not raise purchase orders. {CLERK_ONLY}", id="approver-raise-order"),
        pytest.param(
            "approver",
            "POST",
            "/po/1/submit",
            f"Access denied: a Budget approver may not submit purchase orders for approval. {CLERK_ONLY}",
            id="approver-submit",
        ),
        pytest.param(
            "clerk",
            "POST",
            "/po/2/approve",
            "Access denied: a Purchasing clerk may not approve or reject purchase orders. This needs the role Budget approver.",
            id="clerk-approve",
        ),
        pytest.param(
            "manager",
            "POST",
            "/po/2/reject",
            "Access denied: a Purchasing manager may not approve or reject purchase orders. This needs the role Budget approver.",
            id="manager-reject",
        ),
        pytest.param("approver", "GET", "/po/1/cancel", f"Access denied: a Budget approver may not cancel purchase orders. {CLERK_ONLY}", id="approver-cancel-form"),
        pytest.param("manager", "POST", "/po/1/cancel", f"Access denied: a Purchasing manager may not cancel purchase orders. {CLERK_ONLY}", id="manager-cancel"),
        pytest.param(
            "clerk", "GET", "/reports", "Access denied: a Purchasing clerk may not view reports. This needs the role Purchasing manager.", id="clerk-reports"
        ),
        pytest.param(
            "approver",
            "GET",
            "/reports/orders.csv",
            "Access denied: a Budget approver may not view reports. This needs the role Purchasing manager.",
            id="approver-export",
        ),
    ],
)
async def test_forbidden_action(client: MakeClient, username: str, method: str, path: str, message: str) -> None:
    session = await client(username)
    form = {"reason": "No.", "comment": "Yes.", "name": "New GmbH", "tax_id": "DE111111111", "email": "a@b.example"}
    async with session.request(method, path, data=form if method == "POST" else None, allow_redirects=False) as response:
        assert response.status == 403
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = await response.text()
    assert errors(page) == [message]
    assert "<TITLE>Procurement Desk - Access denied</TITLE>" in page

    _, _, order_list = await fetch(session, "GET", "/po")
    statuses = [line.rsplit("<TD>", 1)[1].removesuffix("</TD></TR>") for line in cell(order_list, "order_list").splitlines() if line.startswith("<TR><TD>")]
    assert statuses == ["Approved", "Submitted", "Draft"]
    _, _, vendor_list = await fetch(session, "GET", "/vendors")
    assert cell(vendor_list, "vendor_list").count("<TR><TD>") == 3


@pytest.mark.parametrize(
    ("username", "hidden_ids"),
    [
        pytest.param("manager", ["submit_po", "cancel_po", "approve", "reject"], id="manager"),
        pytest.param("approver", ["submit_po", "cancel_po"], id="approver"),
    ],
)
async def test_draft_page_hides_foreign_actions(client: MakeClient, username: str, hidden_ids: list[str]) -> None:
    session = await client(username)
    _, _, page = await fetch(session, "GET", "/po/1")
    for hidden_id in hidden_ids:
        assert f'ID="{hidden_id}"' not in page
