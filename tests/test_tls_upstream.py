"""HTTPS upstreams: verified with a configured CA file, rejected without it, or unverified on request."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from conftest import StartProxy, TLSFiles


@pytest.fixture
async def https_upstream(tls_files: TLSFiles) -> AsyncIterator[str]:
    """An HTTPS upstream on 127.0.0.1 with a certificate signed by the test CA; yields its URL."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"secure {request.scheme}")

    application = web.Application()
    application.router.add_get("/{tail:.*}", hello)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.certificate, tls_files.key)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client:
        async with client.get(url) as response:
            return response.status, await response.text()


TRUST = [
    pytest.param("    ca_file: ca.pem\n", id="ca-file"),
    pytest.param("    tls_verify: false\n", id="verify-off"),
]


@pytest.mark.parametrize("trust", TRUST)
async def test_https_upstream_served(start_proxy: StartProxy, https_upstream: str, trust: str) -> None:
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: {https_upstream}\n{trust}")

    status, text = await fetch(f"{proxy.url}/page")

    assert (status, text) == (200, "secure https")


async def test_unknown_ca_is_502(start_proxy: StartProxy, https_upstream: str) -> None:
    proxy = await start_proxy(f"apps:\n  - name: web\n    upstream: {https_upstream}\n")

    status, text = await fetch(f"{proxy.url}/page")

    assert status == 502
    assert text.startswith("502 Bad Gateway: The application 'web' could not be reached or sent an invalid response.\n")
    lines = proxy.gateway.metrics.render().decode().splitlines()
    assert 'guidegate_upstream_errors_total{app="web",kind="tls"} 1.0' in lines
