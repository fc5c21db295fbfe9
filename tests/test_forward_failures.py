"""Upstream failures: refused, slow, invalid or truncated responses become clear errors, never hangs."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from conftest import RawRequest, StartProxy, StartRawUpstream, StartUpstream, free_port

REFUSED_DETAIL = "The application 'web' could not be reached or sent an invalid response."


def config_for(port: int, app_extra: str = "") -> str:
    return f"apps:\n  - name: web\n    upstream: http://127.0.0.1:{port}/\n{app_extra}"


def get(path: str, accept: str = "") -> bytes:
    accept_line = f"Accept: {accept}\r\n" if accept else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{accept_line}\r\n".encode()


async def test_refused_plain_text(start_proxy: StartProxy, raw_request: RawRequest) -> None:
    proxy = await start_proxy(config_for(free_port()))

    response = await raw_request(proxy.port, get("/orders?page=2", "application/json"))

    request_id = response.headers["X-Request-Id"]
    assert response.status == 502
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.body.decode() == f"502 Bad Gateway: {REFUSED_DETAIL}\nRequest id: {request_id}\n"


async def test_refused_html_page(start_proxy: StartProxy, raw_request: RawRequest) -> None:
    proxy = await start_proxy(config_for(free_port()))

    response = await raw_request(proxy.port, get("/orders", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"))

    request_id = response.headers["X-Request-Id"]
    assert response.status == 502
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.body.decode() == (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"><title>502 Bad Gateway</title>\n'
        "<style>body{font:16px/1.5 system-ui,sans-serif;margin:3em auto;max-width:40em;padding:0 1em;color:#222}\n"
        "code{background:#f2f2f2;padding:0 .2em}</style></head>\n"
        "<body><h1>502 Bad Gateway</h1><p>The application &#x27;web&#x27; could not be reached or sent an invalid "
        f"response.</p><p>Request id: <code>{request_id}</code></p></body></html>\n"
    )


async def test_refused_logged_once(start_proxy: StartProxy, raw_request: RawRequest, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    proxy = await start_proxy(config_for(port))

    with caplog.at_level(logging.WARNING, logger="proxy"):
        response = await raw_request(proxy.port, get("/orders?page=2"))

    request_id = response.headers["X-Request-Id"]
    records = [record for record in caplog.records if record.name.startswith("proxy")]
    assert len(records) == 1
    assert records[0].levelname == "WARNING"
    assert records[0].getMessage() == (
        f"app web: upstream http://127.0.0.1:{port}/ refused for GET /orders (request {request_id}): "
        f"ConnectFailed: cannot connect to 127.0.0.1:{port}: Connection refused"
    )


async def test_read_timeout_is_504(start_upstream: StartUpstream, start_proxy: StartProxy, raw_request: RawRequest) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="too late")

    application = web.Application()
    application.router.add_get("/slow", slow)
    upstream = await start_upstream(application)
    proxy = await start_proxy(config_for(upstream.port, "    timeouts:\n      read: 200ms\n"))

    try:
        response = await raw_request(proxy.port, get("/slow"))
    finally:
        release.set()

    request_id = response.headers["X-Request-Id"]
    assert response.status == 504
    assert response.body.decode() == (
        f"504 Gateway Timeout: The application 'web' did not answer in time.\nRequest id: {request_id}\n"
    )


INVALID_RESPONSES = [
    pytest.param(b"garbage\r\n\r\n", id="garbage-status-line"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello", id="bad-content-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nBad Header Without Colon\r\n\r\n", id="bad-header-line"),
    pytest.param(b"", id="closed-without-answer"),
]


@pytest.mark.parametrize("answer", INVALID_RESPONSES)
async def test_invalid_response_is_502(start_raw_upstream: StartRawUpstream, start_proxy: StartProxy, raw_request: RawRequest, answer: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config_for(port))

    response = await raw_request(proxy.port, get("/"))

    request_id = response.headers["X-Request-Id"]
    assert response.status == 502
    assert response.body.decode() == f"502 Bad Gateway: {REFUSED_DETAIL}\nRequest id: {request_id}\n"


TRUNCATED = [
    pytest.param(b"Content-Length: 100\r\n\r\n" + b"a" * 10, b"a" * 10, id="content-length"),
    pytest.param(b"Transfer-Encoding: chunked\r\n\r\na\r\n" + b"a" * 10 + b"\r\n", b"a" * 10, id="chunked"),
]


@pytest.mark.parametrize(("rest", "delivered"), TRUNCATED)
async def test_truncated_body_closes_client(
    start_raw_upstream: StartRawUpstream, start_proxy: StartProxy, raw_request: RawRequest, rest: bytes, delivered: bytes
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n" + rest)
        await writer.drain()

    port = await start_raw_upstream(handler)
    proxy = await start_proxy(config_for(port))

    # Keep-alive on purpose: the response ends only because the proxy closes the connection.
    response = await raw_request(proxy.port, b"GET /file HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    assert response.status == 200
    assert response.body == delivered
    assert not response.complete
