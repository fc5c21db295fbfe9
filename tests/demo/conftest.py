"""Fixtures for the demo app tests: a running demo app and signed-in HTTP clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from proxy.demo import DemoServer, start_demo

MakeClient = Callable[..., Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def demo() -> AsyncIterator[DemoServer]:
    """The demo app on a free loopback port, stopped when the test ends."""
    server = await start_demo("127.0.0.1", 0)
    yield server
    await server.stop()


@pytest.fixture
async def client(demo: DemoServer) -> AsyncIterator[MakeClient]:
    """Open HTTP clients for the demo app, signed in as `username` if one is given; all closed at the end.

    Clients do not follow redirects, so tests see every 302 and its Location.
    """
    sessions: list[aiohttp.ClientSession] = []

    async def make(username: str | None = None, **options: object) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            demo.url,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            **options,  # type: ignore[arg-type]
        )
        sessions.append(session)
        if username is not None:
            async with session.post("/login", data={"username": username, "password": username}, allow_redirects=False) as response:
                assert response.status == 302
        return session

    yield make
    for session in sessions:
        await session.close()

