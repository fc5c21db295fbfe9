"""Tests of gzip compression: the Accept-Encoding parser and the Content-Encoding of real responses."""

from __future__ import annotations

import gzip

import pytest

from proxy.demo.compression import accepts_gzip

from .conftest import MakeClient


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("gzip", True, id="gzip"),
        pytest.param("gzip, deflate, br", True, id="browser"),
        pytest.param("GZIP", True, id="upper-case"),
        pytest.param("x-gzip", True, id="x-gzip"),
        pytest.param("*", True, id="wildcard"),
        pytest.param("br;q=1.0, gzip;q=0.5", True, id="lower-quality"),
        pytest.param("gzip;q=0", False, id="gzip-refused"),
        pytest.param("gzip;q=0.0, *", False, id="explicit-beats-wildcard"),
        pytest.param("*;q=0", False, id="wildcard-refused"),
        pytest.param("identity", False, id="identity"),
        pytest.param("br, deflate", False, id="other-codings"),
        pytest.param("gzip;q=bad", False, id="bad-quality"),
        pytest.param("", False, id="empty"),
    ],
)
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/home", id="utf-8-page"),
        pytest.param("/vendors", id="windows-1252-page"),
        pytest.param("/", id="frameset"),
        pytest.param("/reports", id="forbidden-page"),
    ],
)
async def test_html_gzip_when_accepted(client: MakeClient, path: str) -> None:
    session = await client("clerk", auto_decompress=False)
    plain = await client("clerk", auto_decompress=False)
    async with plain.get(path, headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
        assert response.headers["Vary"] == "Accept-Encoding"
        identity_body = await response.read()

    async with session.get(path, headers={"Accept-Encoding": "gzip, deflate"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Vary"] == "Accept-Encoding"
        body = await response.read()
    assert response.headers["Content-Length"] == str(len(body))
    assert body[:2] == b"\x1f\x8b"
    decompressed = gzip.decompress(body)
    assert decompressed.startswith(b"<!DOCTYPE HTML PUBLIC")
    assert decompressed == identity_body


async def test_no_gzip_without_accept_encoding(client: MakeClient) -> None:
    session = await client("clerk", auto_decompress=False, skip_auto_headers=["Accept-Encoding"])
    async with session.get("/home") as response:
        assert "Content-Encoding" not in response.headers
        body = await response.read()
    assert body.startswith(b"<!DOCTYPE HTML PUBLIC")


async def test_csv_not_compressed(client: MakeClient) -> None:
    session = await client("manager", auto_decompress=False)
    async with session.get("/reports/orders.csv", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status == 200
        assert "Content-Encoding" not in response.headers
        assert "Vary" not in response.headers
        assert (await response.read()).startswith(b"order,vendor,")


async def test_redirect_body_compressed(client: MakeClient) -> None:
    session = await client(auto_decompress=False)
    async with session.get("/home", headers={"Accept-Encoding": "gzip"}, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(await response.read())
    assert body == b'<HTML><BODY>The document has moved <A HREF="/login">here</A>.</BODY></HTML>\n'
