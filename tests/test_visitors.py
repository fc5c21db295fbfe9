"""Identity through the proxy: each source alone and combined, trust, spoofed headers, page learning, the visitor cookie."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web

from conftest import RawRequest, Running, StartProxy, StartUpstream, TLSFiles
from proxy.config import Config
from proxy.server import create_runner

SECRET = "0123456789abcdef0123456789abcdef"
JWT_SECRET = "jwt-test-key-0123456789abcdef-0123456789"
ROLES = ("admin", "approver", "buyer", "clerk", "emea", "employee", "manager")
RULES = "guides:\n" + "".join(
    f"  - {{id: role-{role}, kind: banner, title: {role}, body: {role}, audience: {role}}}\n" for role in ROLES
)
"""One banner per role: the guides of a page config name the roles the proxy resolved."""

MAP_CSV = "user,roles\nalice,buyer;approver\n"
IDENTITY_HEADERS = ("X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Remote-User", "Remote-User", "X-Erp-User")


def token(claims: dict[str, Any], key: str = JWT_SECRET) -> str:
    return jwt.encode({"exp": int(time.time()) + 600, **claims}, key, algorithm="HS256")


def basic(user: str, password: str = "pw") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Site:
    """The upstream app: `/home` shows the roles of the session in a header bar, `/echo` returns what it received."""

    def __init__(self) -> None:
        self.session_roles: dict[str, list[str]] = {}

    def application(self) -> web.Application:
        application = web.Application()
        application.router.add_get("/home", self.home)
        application.router.add_route("*", "/echo", self.echo)
        return application

    async def home(self, request: web.Request) -> web.Response:
        roles = self.session_roles.get(request.cookies.get("JSESSIONID", ""), [])
        items = "".join(f'<li class="role">{role}</li>' for role in roles)
        html = f'<html><head><title>Home</title></head><body><ul id="user-menu">{items}</ul><p>Welcome</p></body></html>'
        return web.Response(text=html, content_type="text/html")

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response({"headers": [[name, value] for name, value in request.headers.items()], "cookies": dict(request.cookies)})


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def site(start_upstream: StartUpstream) -> tuple[Site, Running]:
    site = Site()
    return site, await start_upstream(site.application())


def config_text(upstream: str, identity: str, *, trusted: str = "[127.0.0.1/32]") -> str:
    return f"""
trusted_proxies: {trusted}
visitor: {{secret: "{SECRET}"}}
storage: {{path: events.sqlite3}}
apps:
  - name: erp
    upstream: {upstream}/
    rules: [rules.yaml]
    identity:
{textwrap.indent(textwrap.dedent(identity).strip(), "      ")}
"""


@pytest.fixture
def start(tmp_path: Path, site: tuple[Site, Running], start_proxy: StartProxy) -> Start:
    """Start a proxy in front of the site with the given identity section."""

    async def started(identity: str, *, trusted: str = "[127.0.0.1/32]") -> Running:
        (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
        (tmp_path / "roles.csv").write_text(MAP_CSV, encoding="utf-8")
        return await start_proxy(config_text(site[1].url, identity, trusted=trusted))

    return started


async def page_config(client: aiohttp.ClientSession, headers: dict[str, str] | None = None) -> tuple[list[str], aiohttp.ClientResponse]:
    """Return the roles whose banner the page config of /home lists, and the response."""
    async with client.get("/__guidegate/config", params={"app": "erp", "url": "/home"}, headers=headers or {}) as response:
        body = await response.json()
        assert response.status == 200, body
    return sorted(guide["id"].removeprefix("role-") for guide in body["guides"]), response


async def roles_of(proxy: Running, headers: dict[str, str]) -> list[str]:
    async with aiohttp.ClientSession(proxy.url) as client:
        roles, _ = await page_config(client, headers)
    return roles


HEADERS = "{sources: [headers], keep_unmapped_groups: true}"
BASIC_MAP = "{sources: [basic, map], map: roles.csv}"
JWT = f"{{sources: [jwt], jwt: {{algorithms: [HS256], secret: '{JWT_SECRET}', cookie: sso_token}}}}"
ALL = f"""
sources: [headers, jwt, map]
headers: {{user: [X-Forwarded-User, X-Erp-User]}}
jwt: {{algorithms: [HS256], secret: '{JWT_SECRET}'}}
map: roles.csv
keep_unmapped_groups: true
"""
ALICE_HEADERS = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "clerk"}

SOURCE_CASES = [
    pytest.param(HEADERS, "[127.0.0.1/32]", {"X-Forwarded-User": "dave", "X-Forwarded-Groups": "clerk,emea"}, ["clerk", "emea"], id="headers-trusted"),
    pytest.param(HEADERS, "[]", {"X-Forwarded-User": "dave", "X-Forwarded-Groups": "clerk,emea"}, [], id="headers-untrusted"),
    pytest.param(HEADERS, "[10.0.0.0/8]", {"X-Forwarded-User": "dave", "X-Forwarded-Groups": "admin"}, [], id="headers-other-network"),
    pytest.param(
        "{sources: [headers], group_roles: [{pattern: '^erp-(.+)$', roles: ['\\1']}]}",
        "[127.0.0.1/32]",
        {"X-Forwarded-User": "dave", "X-Forwarded-Groups": "erp-buyer,staff"},
        ["buyer"],
        id="headers-group-roles",
    ),
    pytest.param(BASIC_MAP, "[127.0.0.1/32]", {"Authorization": basic("alice")}, ["approver", "buyer"], id="basic-trusted"),
    pytest.param(BASIC_MAP, "[]", {"Authorization": basic("alice")}, [], id="basic-untrusted"),
    pytest.param(
        "{sources: [basic, map], map: roles.csv, basic: {trusted_peers_only: false}}",
        "[]",
        {"Authorization": basic("alice")},
        ["approver", "buyer"],
        id="basic-app-checks-password",
    ),
    pytest.param(JWT, "[]", {"Authorization": "Bearer " + token({"sub": "carol", "roles": ["manager"]})}, ["manager"], id="jwt-header"),
    pytest.param(JWT, "[]", {"Cookie": "sso_token=" + token({"sub": "carol", "roles": ["manager"]})}, ["manager"], id="jwt-cookie"),
    pytest.param(
        JWT, "[]", {"Authorization": "Bearer " + token({"sub": "carol", "roles": ["manager"]}, "another-key-0123456789abcdef-0123")}, [],
        id="jwt-wrong-key",
    ),
    pytest.param(JWT, "[]", {"Authorization": "Bearer " + token({"sub": "carol", "roles": ["manager"], "exp": 1})}, [], id="jwt-expired"),
    pytest.param("{sources: [map], map: roles.csv}", "[127.0.0.1/32]", {"X-Forwarded-User": "alice"}, [], id="map-without-user"),
    pytest.param("{default_roles: [employee]}", "[]", {}, ["employee"], id="default-roles"),
    pytest.param(
        ALL, "[127.0.0.1/32]", {**ALICE_HEADERS, "Authorization": "Bearer " + token({"sub": "alice", "roles": ["manager"]})},
        ["approver", "buyer", "clerk", "manager"], id="union",
    ),
    pytest.param(
        ALL, "[127.0.0.1/32]", {**ALICE_HEADERS, "Authorization": "Bearer " + token({"sub": "carol", "roles": ["manager"]})},
        ["approver", "buyer", "clerk"], id="jwt-of-another-user",
    ),
    pytest.param(
        ALL + "combine_roles: first\n", "[127.0.0.1/32]",
        {**ALICE_HEADERS, "Authorization": "Bearer " + token({"sub": "alice", "roles": ["manager"]})},
        ["clerk"], id="first",
    ),
    pytest.param(
        ALL, "[]", {**ALICE_HEADERS, "X-Erp-User": "alice", "Authorization": "Bearer " + token({"sub": "carol", "roles": ["manager"]})},
        ["manager"], id="spoofed-headers-ignored",
    ),
]


@pytest.mark.parametrize(("identity", "trusted", "headers", "expected"), SOURCE_CASES)
async def test_roles_by_source(start: Start, identity: str, trusted: str, headers: dict[str, str], expected: list[str]) -> None:
    proxy = await start(identity, trusted=trusted)

    assert await roles_of(proxy, headers) == expected


async def test_spoofed_headers_stripped(start: Start) -> None:
    proxy = await start(ALL, trusted="[]")
    spoofed = {name: "mallory" for name in IDENTITY_HEADERS} | {"X-Forwarded-Groups": "admin", "X-Auth-Request-Groups": "admin"}
    async with aiohttp.ClientSession(proxy.url) as client:
        async with client.get("/echo", headers=spoofed) as response:
            received = await response.json()
        roles, _ = await page_config(client, spoofed)

    names = {name.lower() for name, _ in received["headers"]}
    assert names & {name.lower() for name in spoofed} == set()
    assert roles == []


async def test_trusted_headers_reach_upstream(start: Start) -> None:
    proxy = await start(ALL)
    async with aiohttp.ClientSession(proxy.url) as client:
        async with client.get("/echo", headers={"X-Forwarded-User": "alice", "X-Erp-User": "alice"}) as response:
            received = await response.json()

    assert [pair for pair in received["headers"] if pair[0] in ("X-Forwarded-User", "X-Erp-User")] == [
        ["X-Forwarded-User", "alice"],
        ["X-Erp-User", "alice"],
    ]


async def test_map_file_reloads(start: Start, tmp_path: Path) -> None:
    proxy = await start(BASIC_MAP)
    headers = {"Authorization": basic("alice")}
    before = await roles_of(proxy, headers)

    (tmp_path / "roles.csv").write_text("user,roles\nalice,manager\n# changed\n", encoding="utf-8")
    await asyncio.sleep(1.05)  # the map file is checked at most once per second
    after = await roles_of(proxy, headers)

    (tmp_path / "roles.csv").write_text("user,roles\nalice\n", encoding="utf-8")
    await asyncio.sleep(1.05)
    broken = await roles_of(proxy, headers)

    assert before == ["approver", "buyer"]
    assert after == ["manager"]
    assert broken == ["manager"]


PAGE = """
sources: [page]
page: {session_cookie: JSESSIONID, roles_selector: '#user-menu li.role', ttl: 1s, refresh: 0s}
"""


async def learned_roles(client: aiohttp.ClientSession, session: str, expected: list[str]) -> list[str]:
    """Load /home in `session`, then read the roles until they are `expected` (learning runs off the request path)."""
    async with client.get("/home", headers={"Cookie": f"JSESSIONID={session}"}) as response:
        await response.read()
    roles: list[str] = []
    for _ in range(100):
        roles, _ = await page_config(client, {"Cookie": f"JSESSIONID={session}"})
        if roles == expected:
            break
        await asyncio.sleep(0.01)
    return roles


async def test_page_learned_roles(start: Start, site: tuple[Site, Running]) -> None:
    site[0].session_roles = {"s-approver": ["approver", "emea"], "s-nobody": []}
    proxy = await start(PAGE, trusted="[]")
    async with aiohttp.ClientSession(proxy.url) as client:
        unknown, _ = await page_config(client, {"Cookie": "JSESSIONID=s-approver"})
        learned = await learned_roles(client, "s-approver", ["approver", "emea"])
        other_session, _ = await page_config(client, {"Cookie": "JSESSIONID=s-other"})
        nothing_shown = await learned_roles(client, "s-nobody", [])
        await asyncio.sleep(1.1)
        expired, _ = await page_config(client, {"Cookie": "JSESSIONID=s-approver"})

    assert unknown == []
    assert learned == ["approver", "emea"]
    assert other_session == []
    assert nothing_shown == []
    assert expired == []


async def test_page_roles_combined(start: Start, site: tuple[Site, Running]) -> None:
    site[0].session_roles = {"s-1": ["approver"]}
    identity = ALL.replace("sources: [headers, jwt, map]", "sources: [headers, jwt, map, page]") + PAGE.replace("sources: [page]\n", "")
    proxy = await start(identity + "default_roles: [employee]\n")
    headers = {"X-Forwarded-User": "bob", "X-Forwarded-Groups": "clerk", "Cookie": "JSESSIONID=s-1"}
    async with aiohttp.ClientSession(proxy.url) as client:
        nobody, _ = await page_config(client)
        before, _ = await page_config(client, headers)
        async with client.get("/home", headers=headers) as response:
            await response.read()
        after: list[str] = []
        for _ in range(100):
            after, _ = await page_config(client, headers)
            if after != before:
                break
            await asyncio.sleep(0.01)

    assert nobody == ["employee"]
    assert before == ["clerk"]
    assert after == ["approver", "clerk"]


COOKIE_PATTERN = "guidegate_vid={}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


async def test_visitor_cookie_flags(start: Start) -> None:
    proxy = await start("{default_roles: [employee]}")
    async with aiohttp.ClientSession(proxy.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        _, first = await page_config(client)
        _, second = await page_config(client)
        async with client.get("/echo") as response:
            received = await response.json()
            echo_cookies = response.headers.getall("Set-Cookie", [])

    header = first.headers["Set-Cookie"]
    value = cookie_value(header)
    assert header == COOKIE_PATTERN.format(value)
    assert len(value) == 32
    assert second.headers.getall("Set-Cookie", []) == []
    assert received["cookies"] == {}
    assert echo_cookies == []


async def test_known_user_gets_no_cookie(start: Start) -> None:
    proxy = await start(HEADERS)
    async with aiohttp.ClientSession(proxy.url) as client:
        _, response = await page_config(client, {"X-Forwarded-User": "dave"})

    assert response.headers.getall("Set-Cookie", []) == []


@pytest.mark.parametrize(
    ("trusted", "suffix"), [pytest.param("[127.0.0.1/32]", "; Secure", id="trusted-proxy"), pytest.param("[]", "", id="untrusted-peer")]
)
async def test_visitor_cookie_secure_behind_tls_proxy(start: Start, trusted: str, suffix: str) -> None:
    proxy = await start(HEADERS, trusted=trusted)
    async with aiohttp.ClientSession(proxy.url) as client:
        _, response = await page_config(client, {"X-Forwarded-Proto": "https"})

    header = response.headers["Set-Cookie"]
    assert header == COOKIE_PATTERN.format(cookie_value(header)) + suffix


@pytest.fixture
async def tls_proxy(tmp_path: Path, site: tuple[Site, Running], write_config: Callable[[str], Config], tls_files: TLSFiles) -> AsyncIterator[str]:
    """A proxy serving HTTPS with the test certificate; returns its base URL."""
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config = write_config(config_text(site[1].url, "{default_roles: [employee]}", trusted="[]"))
    runner = create_runner(config)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.certificate, tls_files.key)
    server = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_visitor_cookie_secure_over_tls(tls_proxy: str, tls_files: TLSFiles) -> None:
    trust = ssl.create_default_context(cafile=str(tls_files.ca))
    async with aiohttp.ClientSession(tls_proxy, connector=aiohttp.TCPConnector(ssl=trust)) as client:
        _, response = await page_config(client)

    header = response.headers["Set-Cookie"]
    assert header == COOKIE_PATTERN.format(cookie_value(header)) + "; Secure"


COOKIE_CASES = [
    pytest.param([b"guidegate_vid=" + b"v" * 32 + b"; JSESSIONID=abc"], "JSESSIONID=abc", id="first-of-two"),
    pytest.param([b"JSESSIONID=abc; guidegate_vid=" + b"v" * 32 + b"; lang=de"], "JSESSIONID=abc; lang=de", id="middle"),
    pytest.param([b"JSESSIONID=abc", b"guidegate_vid=" + b"v" * 32], "JSESSIONID=abc", id="second-header"),
    pytest.param([b"guidegate_vid=" + b"v" * 32], None, id="only-cookie"),
    pytest.param([b"xguidegate_vid=1; guidegate_vidx=2"], "xguidegate_vid=1; guidegate_vidx=2", id="similar-names-kept"),
]


@pytest.mark.parametrize(("cookie_lines", "forwarded"), COOKIE_CASES)
async def test_visitor_cookie_not_forwarded(start: Start, raw_request: RawRequest, cookie_lines: list[bytes], forwarded: str | None) -> None:
    proxy = await start("{}")
    head = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + b"".join(b"Cookie: " + line + b"\r\n" for line in cookie_lines)

    response = await raw_request(proxy.port, head + b"\r\n")

    received = json.loads(response.body)
    cookies = [value for name, value in received["headers"] if name == "Cookie"]
    assert response.status == 200
    assert cookies == ([forwarded] if forwarded is not None else [])
