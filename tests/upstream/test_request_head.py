"""The request head sent upstream: Host from the pool's authority, framing headers, order kept, line breaks rejected."""

from __future__ import annotations

import ssl

import pytest
from multidict import CIMultiDict

from proxy.upstream import ConnectionPool, UpstreamError
from proxy.upstream.client import InvalidRequestHead, request_head

from .helpers import StartUpstream

LINE_BREAK_MESSAGE = "a header for the upstream contains a line break; it was not sent"


@pytest.mark.parametrize(
    ("method", "target", "headers", "chunked", "empty", "expected"),
    [
        pytest.param("GET", "/", [], False, True, b"GET / HTTP/1.1\r\nHost: app.test:8080\r\n\r\n", id="host-added"),
        pytest.param(
            "GET", "/", [("host", "public.test")], False, True, b"GET / HTTP/1.1\r\nhost: public.test\r\n\r\n", id="host-kept"
        ),
        pytest.param(
            "GET",
            "/a%20b/../c?q=1&q=2",
            [("Accept", "text/html"), ("Cookie", "a=1"), ("X-Trace", "one"), ("accept", "*/*"), ("X-Trace", "two")],
            False,
            True,
            b"GET /a%20b/../c?q=1&q=2 HTTP/1.1\r\nHost: app.test:8080\r\nAccept: text/html\r\nCookie: a=1\r\n"
            b"X-Trace: one\r\naccept: */*\r\nX-Trace: two\r\n\r\n",
            id="order-and-repeats",
        ),
        pytest.param(
            "POST", "/upload", [], True, False, b"POST /upload HTTP/1.1\r\nHost: app.test:8080\r\nTransfer-Encoding: chunked\r\n\r\n",
            id="chunked",
        ),
        pytest.param(
            "POST", "/form", [], False, True, b"POST /form HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 0\r\n\r\n",
            id="post-empty",
        ),
        pytest.param(
            "PUT", "/item", [], False, True, b"PUT /item HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 0\r\n\r\n",
            id="put-empty",
        ),
        pytest.param(
            "PATCH", "/item", [], False, True, b"PATCH /item HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 0\r\n\r\n",
            id="patch-empty",
        ),
        pytest.param("DELETE", "/item", [], False, True, b"DELETE /item HTTP/1.1\r\nHost: app.test:8080\r\n\r\n", id="delete-empty"),
        pytest.param("HEAD", "/", [], False, True, b"HEAD / HTTP/1.1\r\nHost: app.test:8080\r\n\r\n", id="head-empty"),
        pytest.param(
            "POST",
            "/form",
            [("content-length", "0")],
            False,
            True,
            b"POST /form HTTP/1.1\r\nHost: app.test:8080\r\ncontent-length: 0\r\n\r\n",
            id="post-empty-length-given",
        ),
        pytest.param(
            "POST",
            "/form",
            [("Content-Length", "4")],
            False,
            False,
            b"POST /form HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 4\r\n\r\n",
            id="post-with-length",
        ),
        pytest.param(
            "GET",
            "/",
            [("X-Name", "caf\udce9"), ("X-Utf8", "café")],
            False,
            True,
            b"GET / HTTP/1.1\r\nHost: app.test:8080\r\nX-Name: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
            id="non-ascii",
        ),
        pytest.param(
            "GET",
            "/",
            [("X-Empty", ""), ("X-Space", "a  b")],
            False,
            True,
            b"GET / HTTP/1.1\r\nHost: app.test:8080\r\nX-Empty: \r\nX-Space: a  b\r\n\r\n",
            id="empty-and-spaces",
        ),
    ],
)
def test_request_head_bytes(
    method: str, target: str, headers: list[tuple[str, str]], chunked: bool, empty: bool, expected: bytes
) -> None:
    head = request_head(method, target, CIMultiDict(headers), "app.test:8080", chunked=chunked, empty=empty)

    assert head == expected


@pytest.mark.parametrize(
    ("host", "port", "tls", "authority"),
    [
        pytest.param("127.0.0.1", 80, False, "127.0.0.1", id="ipv4-default"),
        pytest.param("127.0.0.1", 8080, False, "127.0.0.1:8080", id="ipv4-port"),
        pytest.param("::1", 80, False, "[::1]", id="ipv6-default"),
        pytest.param("::1", 8080, False, "[::1]:8080", id="ipv6-port"),
        pytest.param("fe80::1", 8443, True, "[fe80::1]:8443", id="ipv6-tls-port"),
        pytest.param("app.test", 443, True, "app.test", id="tls-default"),
        pytest.param("app.test", 443, False, "app.test:443", id="plain-on-443"),
        pytest.param("app.test", 80, True, "app.test:80", id="tls-on-80"),
    ],
)
def test_request_head_pool_authority(host: str, port: int, tls: bool, authority: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if tls else None
    pool = ConnectionPool("web", host, port, limit=1, tls=context)

    head = request_head("GET", "/", CIMultiDict(), pool.authority, chunked=False, empty=True)

    assert pool.authority == authority
    assert head == f"GET / HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("X-Evil", "a\r\nSet-Cookie: x=1", id="crlf-in-value"),
        pytest.param("X-Evil", "a\nb", id="lf-in-value"),
        pytest.param("X-Evil", "a\rb", id="cr-in-value"),
        pytest.param("X-Evil\r\nX-Other", "a", id="crlf-in-name"),
        pytest.param("X-Evil", "a\r\n\r\nGET /admin HTTP/1.1", id="smuggled-request"),
    ],
)
def test_request_head_line_break(name: str, value: str) -> None:
    with pytest.raises(InvalidRequestHead) as raised:
        request_head("GET", "/", CIMultiDict([(name, value)]), "app.test", chunked=False, empty=True)

    assert str(raised.value) == LINE_BREAK_MESSAGE
    assert isinstance(raised.value, UpstreamError)
    assert raised.value.kind == "other"


async def test_request_head_invalid_not_sent(start_upstream: StartUpstream) -> None:
    async def never_called(peer: object) -> None:
        raise AssertionError("the invalid request reached the upstream")

    upstream = await start_upstream(never_called)
    pool = upstream.pool()

    with pytest.raises(InvalidRequestHead) as raised:
        await upstream.request(pool, headers=CIMultiDict([("X-Evil", "a\r\nb")]))

    assert str(raised.value) == LINE_BREAK_MESSAGE
    assert pool.in_use == 0
    assert pool.idle == 0
    assert upstream.peers == []
