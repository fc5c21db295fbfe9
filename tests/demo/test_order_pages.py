"""Tests of the vendor list, the page sent in windows-1252 with its charset declared only in a META tag."""

from __future__ import annotations

import pytest

from .conftest import MakeClient
from .helpers import VALID_VENDOR, fetch

EXPECTED_HEAD = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
    b"<HTML>\n"
    b"<HEAD>\n"
    b'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=windows-1252">\n'
    b"<TITLE>Procurement Desk - Vendors</TITLE>\n"
    b"</HEAD>\n"
)

EXPECTED_TABLE = (
    b'<P ID="price_note">Prices in \x80 \x96 every vendor delivers under our <A HREF="/help#terms">terms of purchase</A>.</P>\n'
    b'<TABLE ID="vendor_list" BORDER=1 CELLPADDING=2 CELLSPACING=0>\n'
    b'<TR BGCOLOR="#CCCCCC"><TH>No.</TH><TH>Vendor</TH><TH>Tax ID</TH><TH>E-mail</TH></TR>\n'
    b'<TR><TD>3</TD><TD><A HREF="/vendors/3">Caf\xe9 Cr\xe8me Catering</A></TD><TD>FR412345678</TD>'
    b"<TD>contact@cafe-creme.example</TD></TR>\n"
    b'<TR><TD>1</TD><TD><A HREF="/vendors/1">M\xfcller B\xfcrobedarf GmbH</A></TD><TD>DE123456789</TD>'
    b"<TD>bestellung@mueller-buero.example</TD></TR>\n"
    b'<TR><TD>2</TD><TD><A HREF="/vendors/2">Nordwind Logistik AG</A></TD><TD>DE987654321</TD>'
    b"<TD>orders@nordwind.example</TD></TR>\n"
    b"</TABLE>\n"
)


@pytest.mark.parametrize(
    ("username", "new_vendor_link"),
    [
        pytest.param("clerk", True, id="clerk"),
        pytest.param("manager", False, id="manager"),
    ],
)
async def test_vendor_list_windows_1252_bytes(client: MakeClient, username: str, new_vendor_link: bool) -> None:
    session = await client(username, skip_auto_headers=["Accept-Encoding"])
    async with session.get("/vendors") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html"
        assert response.charset is None
        body = await response.read()
    assert response.headers["Content-Length"] == str(len(body))

    assert body.startswith(EXPECTED_HEAD)
    assert body.index(b"<META") < 1024
    assert EXPECTED_TABLE in body
    assert (b'<P><A HREF="/vendors/new" ID="new_vendor">New vendor</A></P>\n' in body) is new_vendor_link
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert "Prices in € – every vendor" in body.decode("cp1252")


async def test_vendor_list_unencodable_name(client: MakeClient) -> None:
    clerk = await client("clerk")
    assert (await fetch(clerk, "POST", "/vendors/new", VALID_VENDOR))[:2] == (302, "/vendors/4")
    async with clerk.get("/vendors") as response:
        body = await response.read()
    # Ł and ź are missing from windows-1252, ó is 0xF3 in it.
    assert b'<A HREF="/vendors/4">&#321;\xf3d&#378; Papier Sp. z o.o.</A>' in body


async def test_other_pages_declare_utf8_header(client: MakeClient) -> None:
    clerk = await client("clerk")
    async with clerk.get("/vendors/1") as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        body = await response.read()
    assert b"<META" not in body
    assert "<TD ID=\"vendor_name\">Müller Bürobedarf GmbH</TD>".encode() in body
