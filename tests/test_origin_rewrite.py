"""Redirect and cookie rewriting from the upstream's origin and path to the public ones."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from conftest import Running, StartProxy, StartUpstream

LAYOUTS = {
    # name: (upstream path, public path prefix)
    "root": ("/", "/"),
    "prefixed": ("/app/", "/erp/"),
    "mounted": ("/", "/erp/"),
}


async def reply_header(request: web.Request) -> web.Response:
    """Respond with the header whose name and value the request sends in X-Reply-Name and X-Reply-Value."""
    headers = {request.headers["X-Reply-Name"]: request.headers["X-Reply-Value"]}
    return web.Response(status=302 if "Location" in headers else 200, headers=headers)


async def reply_cookies(request: web.Request) -> web.Response:
    response = web.Response(text="ok")
    for value in request.headers.getall("X-Reply-Cookie"):
        response.headers.add("Set-Cookie", value)
    return response


async def start_pair(
    start_upstream: StartUpstream, start_proxy: StartProxy, layout: str, extra: str = ""
) -> tuple[Running, Running, str]:
    application = web.Application()
    application.router.add_get("/{tail:.*}", reply_header)
    application.router.add_post("/{tail:.*}", reply_cookies)
    upstream = await start_upstream(application)
    upstream_path, public_prefix = LAYOUTS[layout]
    proxy = await start_proxy(
        f"{extra}\napps:\n  - name: web\n    upstream: {upstream.url}{upstream_path}\n    path_prefix: {public_prefix}\n"
    )
    return upstream, proxy, public_prefix


HEADER_CASES = [
    pytest.param("root", "Location", "{up}/next?a=1#top", "{pub}/next?a=1#top", id="root-location-absolute"),
    pytest.param("root", "Location", "{up}", "{pub}/", id="root-location-origin-only"),
    pytest.param("root", "Location", "{up}?a=1", "{pub}/?a=1", id="root-location-origin-query"),
    pytest.param("root", "Location", "HTTP://127.0.0.1:{up_port}/x", "{pub}/x", id="root-location-scheme-case"),
    pytest.param("root", "Location", "/next", "/next", id="root-location-absolute-path"),
    pytest.param("root", "Location", "next/step", "next/step", id="root-location-relative"),
    pytest.param("root", "Location", "http://other.example/x", "http://other.example/x", id="root-location-other-host"),
    pytest.param("root", "Location", "http://127.0.0.1:1/x", "http://127.0.0.1:1/x", id="root-location-other-port"),
    pytest.param("root", "Location", "{up}0/x", "{up}0/x", id="root-location-longer-port"),
    pytest.param("root", "Location", "//other.example/x", "//other.example/x", id="root-location-protocol-relative"),
    pytest.param("root", "Content-Location", "{up}/doc/1", "{pub}/doc/1", id="root-content-location"),
    pytest.param("root", "Refresh", "5; url={up}/done", "5; url={pub}/done", id="root-refresh"),
    pytest.param("root", "Refresh", "0;URL='{up}/done'", "0;URL='{pub}/done'", id="root-refresh-quoted"),
    pytest.param("root", "Refresh", "30", "30", id="root-refresh-without-url"),
    pytest.param("prefixed", "Location", "{up}/app/next?a=1", "{pub}/erp/next?a=1", id="prefixed-location-absolute"),
    pytest.param("prefixed", "Location", "/app/next", "/erp/next", id="prefixed-location-absolute-path"),
    pytest.param("prefixed", "Location", "/app", "/erp/", id="prefixed-location-base-without-slash"),
    pytest.param("mounted", "Location", "/next", "/erp/next", id="mounted-location-prefixed"),
    pytest.param("mounted", "Location", "/erp/next", "/erp/next", id="mounted-location-already-public"),
    pytest.param("prefixed", "Location", "/app?x=1", "/erp/?x=1", id="prefixed-location-base-query"),
    pytest.param("prefixed", "Location", "/application/x", "/application/x", id="prefixed-location-similar-path"),
    pytest.param("prefixed", "Location", "/other/x", "/other/x", id="prefixed-location-outside-base"),
    pytest.param("prefixed", "Location", "next", "next", id="prefixed-location-relative"),
    pytest.param("prefixed", "Location", "http://other.example/app/x", "http://other.example/app/x", id="prefixed-location-other-host"),
    pytest.param("prefixed", "Content-Location", "/app/doc/1", "/erp/doc/1", id="prefixed-content-location"),
    pytest.param("prefixed", "Refresh", "0; url=/app/done", "0; url=/erp/done", id="prefixed-refresh-path"),
    pytest.param("prefixed", "Refresh", "1;url={up}/app/done", "1;url={pub}/erp/done", id="prefixed-refresh-absolute"),
]


@pytest.mark.parametrize(("layout", "name", "sent", "expected"), HEADER_CASES)
async def test_url_header_rewritten(
    start_upstream: StartUpstream, start_proxy: StartProxy, layout: str, name: str, sent: str, expected: str
) -> None:
    upstream, proxy, prefix = await start_pair(start_upstream, start_proxy, layout)
    values = {"up": upstream.url, "up_port": upstream.port, "pub": proxy.url}

    async with aiohttp.ClientSession() as client:
        headers = {"X-Reply-Name": name, "X-Reply-Value": sent.format(**values)}
        async with client.get(f"{proxy.url}{prefix}page", headers=headers, allow_redirects=False) as response:
            received = response.headers.getall(name)

    assert received == [expected.format(**values)]


async def test_location_uses_forwarded_origin(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    upstream, proxy, prefix = await start_pair(start_upstream, start_proxy, "prefixed", "trusted_proxies: [127.0.0.1/32]")

    async with aiohttp.ClientSession() as client:
        headers = {
            "X-Reply-Name": "Location",
            "X-Reply-Value": f"{upstream.url}/app/next",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "erp.example.com",
        }
        async with client.get(f"{proxy.url}{prefix}page", headers=headers, allow_redirects=False) as response:
            location = response.headers.getall("Location")

    assert location == ["https://erp.example.com/erp/next"]


COOKIE_CASES = [
    pytest.param("root", "sid=1; Path=/; HttpOnly", "sid=1; Path=/; HttpOnly", id="root-path-root"),
    pytest.param("root", "sid=1; Path=/reports", "sid=1; Path=/reports", id="root-path-below"),
    pytest.param("root", "sid=1; Domain=127.0.0.1; Path=/", "sid=1; Path=/", id="root-domain-upstream-dropped"),
    pytest.param("root", "sid=1; Domain=.127.0.0.1", "sid=1", id="root-domain-leading-dot-dropped"),
    pytest.param("root", "sid=1; Domain=other.example; Path=/", "sid=1; Domain=other.example; Path=/", id="root-domain-other-kept"),
    pytest.param("prefixed", "sid=1", "sid=1", id="prefixed-no-attributes"),
    pytest.param("prefixed", "sid=1; Path=/app/; HttpOnly", "sid=1; Path=/erp/; HttpOnly", id="prefixed-path-base"),
    pytest.param("prefixed", "sid=1; Path=/app", "sid=1; Path=/erp", id="prefixed-path-base-without-slash"),
    pytest.param("prefixed", "sid=1; Path=/", "sid=1; Path=/erp", id="prefixed-path-root"),
    pytest.param("prefixed", "sid=1; path=/app/reports; Secure", "sid=1; path=/erp/reports; Secure", id="prefixed-path-below"),
    pytest.param("prefixed", "sid=1; Path=/other", "sid=1; Path=/other", id="prefixed-path-outside"),
    pytest.param("prefixed", "sid=1; Domain=127.0.0.1; Path=/app/", "sid=1; Path=/erp/", id="prefixed-domain-and-path"),
    pytest.param(
        "prefixed",
        "sid=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/app/",
        "sid=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/erp/",
        id="prefixed-expires-comma",
    ),
    pytest.param("prefixed", "data=Path=/app/; Path=/app/", "data=Path=/app/; Path=/erp/", id="prefixed-value-looks-like-path"),
    pytest.param("mounted", "sid=1; Path=/", "sid=1; Path=/erp/", id="mounted-path-root"),
    pytest.param("mounted", "sid=1; Path=/reports", "sid=1; Path=/erp/reports", id="mounted-path-below"),
    pytest.param("mounted", "sid=1; Path=/erp/", "sid=1; Path=/erp/", id="mounted-path-already-public"),
]


@pytest.mark.parametrize(("layout", "sent", "expected"), COOKIE_CASES)
async def test_set_cookie_rewritten(start_upstream: StartUpstream, start_proxy: StartProxy, layout: str, sent: str, expected: str) -> None:
    _, proxy, prefix = await start_pair(start_upstream, start_proxy, layout)

    async with aiohttp.ClientSession() as client:
        async with client.post(f"{proxy.url}{prefix}login", headers={"X-Reply-Cookie": sent}) as response:
            cookies = response.headers.getall("Set-Cookie")

    assert cookies == [expected]


async def test_set_cookies_stay_separate(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    _, proxy, prefix = await start_pair(start_upstream, start_proxy, "prefixed")
    sent = [
        ("X-Reply-Cookie", "a=1; Path=/app/"),
        ("X-Reply-Cookie", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/app/x"),
        ("X-Reply-Cookie", "c=3"),
    ]

    async with aiohttp.ClientSession() as client:
        async with client.post(f"{proxy.url}{prefix}login", headers=sent) as response:
            cookies = response.headers.getall("Set-Cookie")

    assert cookies == ["a=1; Path=/erp/", "b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Path=/erp/x", "c=3"]
