"""Tests of the frameset, the navigation frame, the help page and the manager's reports."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from .conftest import MakeClient
from .helpers import cell, fetch

EXPECTED_FRAMESET = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Frameset//EN" "http://www.w3.org/TR/html4/frameset.dtd">
<HTML>
<HEAD>
<TITLE>Procurement Desk</TITLE>
</HEAD>
<FRAMESET COLS="180,*" FRAMEBORDER=1 BORDER=1>
<FRAME SRC="/nav" NAME="nav" SCROLLING="auto">
<FRAME SRC="{main}" NAME="main">
<NOFRAMES>
<BODY>
<P ID="whoami">Signed in as Max Manager (Purchasing manager)</P>
<P>Procurement Desk needs a browser that shows frames. <A HREF="/home">Continue without frames</A></P>
</BODY>
</NOFRAMES>
</FRAMESET>
</HTML>
"""


@pytest.mark.parametrize(
    ("query", "main"),
    [
        pytest.param("", "/home", id="default"),
        pytest.param("?main=/po/2", "/po/2", id="order"),
        pytest.param("?main=/po%3Fstatus%3DSubmitted", "/po?status=Submitted", id="with-query"),
        pytest.param("?main=//attacker.example/", "/home", id="network-path"),
        pytest.param("?main=http://attacker.example/", "/home", id="absolute-url"),
        pytest.param("?main=javascript:alert(1)", "/home", id="script"),
        pytest.param('?main=/x"onload="alert(1)', "/home", id="quote"),
    ],
)
async def test_frameset_page(client: MakeClient, query: str, main: str) -> None:
    session = await client("manager")
    async with session.get("/" + query, allow_redirects=False) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = await response.text()
    assert page == EXPECTED_FRAMESET.format(main=main)


async def test_reports_for_manager(client: MakeClient) -> None:
    manager = await client("manager")
    status, _, page = await fetch(manager, "GET", "/reports")
    assert status == 200
    rows = [line for line in cell(page, "report_status").splitlines() if line.startswith("<TR><TD>")]
    assert rows == [
        "<TR><TD>Draft</TD><TD>1</TD><TD>198.00 €</TD></TR>",
        "<TR><TD>Submitted</TD><TD>1</TD><TD>1,140.00 €</TD></TR>",
        "<TR><TD>Approved</TD><TD>1</TD><TD>1,250.00 €</TD></TR>",
        "<TR><TD>Rejected</TD><TD>0</TD><TD>0.00 €</TD></TR>",
        "<TR><TD>Cancelled</TD><TD>0</TD><TD>0.00 €</TD></TR>",
    ]
    assert "<TR><TD>4711</TD><TD>2</TD><TD>1,448.00 €</TD></TR>" in cell(page, "report_cost_center")
    assert "<TR><TD>Nordwind Logistik AG</TD><TD>1</TD><TD>1,140.00 €</TD></TR>" in cell(page, "report_vendor")
    assert '<A HREF="/reports/orders.csv" ID="export_csv">' in page


async def test_reports_csv_download(client: MakeClient) -> None:
    manager = await client("manager")
    async with manager.get("/reports/orders.csv") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"] == 'attachment; filename="orders.csv"'
        text = await response.text()
    today = date.today()
    assert text == (
        "order,vendor,description,quantity,unit_price,total,cost_center,delivery_date,status,raised_by\r\n"
        f"3,Café Crème Catering,Catering for the works meeting,1,1250.00,1250.00,4711,{today + timedelta(days=30)},Approved,clerk\r\n"
        f"2,Nordwind Logistik AG,Pallet transport Hamburg to Munich,3,380.00,1140.00,5200,{today + timedelta(days=21)},Submitted,clerk\r\n"
        f'1,Müller Bürobedarf GmbH,"Printer paper A4, 80 g/m², 500 sheets",40,4.95,198.00,4711,{today + timedelta(days=14)},Draft,clerk\r\n'
    )


async def test_help_page_sections(client: MakeClient) -> None:
    clerk = await client("clerk")
    status, _, page = await fetch(clerk, "GET", "/help")
    assert status == 200
    for anchor in ("workflow", "formats", "roles", "terms"):
        assert f'<A NAME="{anchor}">' in page
    assert "<LI><B>Budget approver</B>: approves or rejects submitted purchase orders</LI>" in page
