"""Tests of signing in and out of the demo app, the session cookie and the user shown on each page."""

from __future__ import annotations

import re

import pytest

from proxy.demo import DEMO_USERS, Role
from proxy.demo.accounts import Permission, Sessions, authenticate, roles_with

from .conftest import MakeClient
from .helpers import cell, errors, fetch


def test_demo_users_constant() -> None:
    assert [(user.username, user.password, user.full_name, user.role) for user in DEMO_USERS] == [
        ("clerk", "clerk", "Carla Clerk", Role.CLERK),
        ("manager", "manager", "Max Manager", Role.MANAGER),
        ("approver", "approver", "Anna Approver", Role.APPROVER),
    ]


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        pytest.param("clerk", "clerk", "clerk", id="clerk"),
        pytest.param("approver", "approver", "approver", id="approver"),
        pytest.param("clerk", "Clerk", None, id="wrong-case-password"),
        pytest.param("nobody", "nobody", None, id="unknown-user"),
        pytest.param("clerk", "", None, id="empty-password"),
    ],
)
def test_authenticate(username: str, password: str, expected: str | None) -> None:
    user = authenticate(username, password)
    assert (None if user is None else user.username) == expected


def test_roles_with_permission() -> None:
    assert roles_with(Permission.DECIDE_ORDER) == [Role.APPROVER]
    assert roles_with(Permission.RAISE_ORDER) == [Role.CLERK]
    assert roles_with(Permission.VIEW_REPORTS) == [Role.MANAGER]


def test_sessions_start_and_end() -> None:
    sessions = Sessions()
    token = sessions.start(DEMO_USERS[0])
    assert sessions.user(token) == DEMO_USERS[0]
    sessions.end(token)
    assert sessions.user(token) is None
    assert sessions.user(None) is None
    sessions.end("unknown")


@pytest.mark.parametrize(
    ("username", "whoami"),
    [
        pytest.param("clerk", "Signed in as Carla Clerk (Purchasing clerk)", id="clerk"),
        pytest.param("manager", "Signed in as Max Manager (Purchasing manager)", id="manager"),
        pytest.param("approver", "Signed in as Anna Approver (Budget approver)", id="approver"),
    ],
)
async def test_login_each_role(client: MakeClient, username: str, whoami: str) -> None:
    session = await client()
    async with session.post("/login", data={"username": username, "password": username}, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/"
        cookie = response.cookies["DEMOSESSION"]
        assert cookie["httponly"] is True
        assert cookie["path"] == "/"
        assert len(cookie.value) == 32

    for path in ("/home", "/nav", "/vendors", "/po", "/po/1", "/help"):
        status, _, page = await fetch(session, "GET", path)
        assert status == 200, path
        assert cell(page, "whoami") == whoami, path
    _, _, frameset = await fetch(session, "GET", "/")
    assert f'<P ID="whoami">{whoami}</P>' in frameset


@pytest.mark.parametrize(
    ("form", "message"),
    [
        pytest.param({"username": "clerk", "password": "wrong"}, "Unknown user name or wrong password.", id="wrong-password"),
        pytest.param({"username": "ghost", "password": "ghost"}, "Unknown user name or wrong password.", id="unknown-user"),
        pytest.param({"username": "clerk", "password": ""}, "Please enter your user name and password.", id="empty-password"),
        pytest.param({"username": " ", "password": "clerk"}, "Please enter your user name and password.", id="blank-user"),
        pytest.param({}, "Please enter your user name and password.", id="no-fields"),
    ],
)
async def test_login_failure(client: MakeClient, form: dict[str, str], message: str) -> None:
    session = await client()
    async with session.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 200
        assert "DEMOSESSION" not in response.cookies
        page = await response.text()
    assert errors(page) == [message]
    assert cell(page, "whoami") == "Not signed in"
    status, location, _ = await fetch(session, "GET", "/home")
    assert (status, location) == (302, "/login")


async def test_login_form_fields(client: MakeClient) -> None:
    session = await client()
    status, _, page = await fetch(session, "GET", "/login")
    assert status == 200
    assert '<FORM METHOD="POST" ACTION="/login" NAME="login" TARGET="_top">' in page
    assert '<INPUT TYPE="text" NAME="username" ID="username" VALUE="" SIZE=20 MAXLENGTH=40>' in page
    assert '<INPUT TYPE="password" NAME="password" ID="password" VALUE="" SIZE=20 MAXLENGTH=40>' in page
    assert '<INPUT TYPE="submit" VALUE="Sign in" ID="login">' in page
    assert cell(page, "whoami") == "Not signed in"


async def test_logout_ends_session(client: MakeClient) -> None:
    session = await client("clerk")
    token = next(cookie.value for cookie in session.cookie_jar if cookie.key == "DEMOSESSION")

    async with session.get("/logout", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/login"
        assert response.cookies["DEMOSESSION"].value == ""
        assert response.cookies["DEMOSESSION"]["path"] == "/"
    assert (await fetch(session, "GET", "/home"))[:2] == (302, "/login")

    replay = await client()
    async with replay.get("/home", headers={"Cookie": f"DEMOSESSION={token}"}, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/login"


async def test_logout_by_post(client: MakeClient) -> None:
    session = await client("approver")
    assert (await fetch(session, "POST", "/logout"))[:2] == (302, "/login")
    assert (await fetch(session, "GET", "/po"))[:2] == (302, "/login")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/", id="frameset"),
        pytest.param("GET", "/nav", id="nav"),
        pytest.param("GET", "/home", id="home"),
        pytest.param("GET", "/vendors", id="vendors"),
        pytest.param("GET", "/vendors/1", id="vendor"),
        pytest.param("GET", "/po", id="orders"),
        pytest.param("GET", "/po/1", id="order"),
        pytest.param("GET", "/reports", id="reports"),
        pytest.param("POST", "/vendors/new", id="create-vendor"),
        pytest.param("POST", "/po/new", id="raise-order"),
        pytest.param("POST", "/po/2/approve", id="approve"),
    ],
)
async def test_signed_out_redirects_to_login(client: MakeClient, method: str, path: str) -> None:
    session = await client()
    assert (await fetch(session, method, path))[:2] == (302, "/login")


async def test_help_without_session(client: MakeClient) -> None:
    session = await client()
    status, _, page = await fetch(session, "GET", "/help")
    assert status == 200
    assert cell(page, "whoami") == "Not signed in"
    assert "Cost center</TD><TD>exactly 4 digits" in page


@pytest.mark.parametrize(
    ("username", "link_ids"),
    [
        pytest.param(
            "clerk",
            ["nav_home", "nav_vendors", "nav_new_vendor", "nav_orders", "nav_new_order", "nav_help", "nav_logout"],
            id="clerk",
        ),
        pytest.param("manager", ["nav_home", "nav_vendors", "nav_orders", "nav_reports", "nav_help", "nav_logout"], id="manager"),
        pytest.param("approver", ["nav_home", "nav_vendors", "nav_orders", "nav_awaiting", "nav_help", "nav_logout"], id="approver"),
    ],
)
async def test_navigation_links_per_role(client: MakeClient, username: str, link_ids: list[str]) -> None:
    session = await client(username)
    _, _, page = await fetch(session, "GET", "/nav")
    assert re.findall(r'<A HREF="[^"]*" ID="(\w+)"', page) == link_ids
    assert '<A HREF="/logout" ID="nav_logout" TARGET="_top">Sign out</A>' in page
    assert '<A HREF="/vendors" ID="nav_vendors" TARGET="main">Vendors</A>' in page


async def test_second_login_replaces_session(client: MakeClient) -> None:
    session = await client("clerk")
    first = next(cookie.value for cookie in session.cookie_jar if cookie.key == "DEMOSESSION")
    async with session.post("/login", data={"username": "manager", "password": "manager"}, allow_redirects=False):
        pass
    _, _, page = await fetch(session, "GET", "/home")
    assert cell(page, "whoami") == "Signed in as Max Manager (Purchasing manager)"

    stale = await client()
    async with stale.get("/home", headers={"Cookie": f"DEMOSESSION={first}"}, allow_redirects=False) as response:
        assert response.status == 302
