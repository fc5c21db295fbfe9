"""Tests of starting and stopping the demo app: its URL, a busy port, and the reset of data and sessions."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from proxy.demo import start_demo
from proxy.errors import GuidegateError

from .helpers import VALID_VENDOR, cell


async def _sign_in(session: aiohttp.ClientSession, username: str) -> None:
    async with session.post("/login", data={"username": username, "password": username}, allow_redirects=False) as response:
        assert response.status == 302


async def _vendor_count(session: aiohttp.ClientSession) -> int:
    async with session.get("/vendors") as response:
        page = (await response.read()).decode("cp1252")
    return cell(page, "vendor_list").count("<TR><TD>")


@pytest.mark.parametrize("on_disk", [pytest.param(False, id="memory"), pytest.param(True, id="file")])
async def test_restart_resets_data_and_sessions(tmp_path: Path, on_disk: bool) -> None:
    database_path = str(tmp_path / "demo.sqlite") if on_disk else None
    first = await start_demo("127.0.0.1", 0, database_path=database_path)
    try:
        async with aiohttp.ClientSession(first.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await _sign_in(session, "clerk")
            async with session.post("/vendors/new", data=VALID_VENDOR, allow_redirects=False) as response:
                assert response.headers["Location"] == "/vendors/4"
            assert await _vendor_count(session) == 4
            token = next(cookie.value for cookie in session.cookie_jar if cookie.key == "DEMOSESSION")
    finally:
        await first.stop()
    if on_disk:
        assert (tmp_path / "demo.sqlite").is_file()

    second = await start_demo("127.0.0.1", 0, database_path=database_path)
    try:
        async with aiohttp.ClientSession(second.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get("/home", headers={"Cookie": f"DEMOSESSION={token}"}, allow_redirects=False) as response:
                assert response.status == 302
                assert response.headers["Location"] == "/login"
            await _sign_in(session, "clerk")
            assert await _vendor_count(session) == 3
            async with session.get("/vendors/4") as response:
                assert response.status == 404
            async with session.post("/vendors/new", data=VALID_VENDOR, allow_redirects=False) as response:
                assert response.headers["Location"] == "/vendors/4"
    finally:
        await second.stop()


async def test_start_demo_url() -> None:
    server = await start_demo("127.0.0.1", 0)
    try:
        port = server.runner.addresses[0][1]
        assert server.url == f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/help") as response:
                assert response.status == 200
    finally:
        await server.stop()


async def test_start_demo_port_busy() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(GuidegateError) as raised:
            await start_demo("127.0.0.1", port)
    assert str(raised.value) == (
        f"The demo app could not listen on 127.0.0.1:{port}: Address already in use. Choose another port, or 0 for a free one."
    )


async def test_head_request_has_no_body() -> None:
    server = await start_demo("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            async with session.head(server.url + "/help", headers={"Accept-Encoding": "identity"}) as response:
                assert response.status == 200
                assert int(response.headers["Content-Length"]) > 1000
                assert await response.read() == b""
    finally:
        await server.stop()


async def test_start_demo_database_unwritable(tmp_path: Path) -> None:
    database_path = str(tmp_path / "missing-directory" / "demo.sqlite")
    with pytest.raises(GuidegateError) as raised:
        await start_demo("127.0.0.1", 0, database_path=database_path)
    assert str(raised.value) == (
        f"The demo database {database_path} could not be opened: unable to open database file. "
        "Choose a writable file path, or none to keep the data in memory."
    )
