"""Fixtures shared by the test suite: real upstream servers and a real proxy, all on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from proxy.config import Config, load_config
from proxy.server import GATEWAY_KEY, Gateway, create_app


@dataclass
class Running:
    """A server started by a fixture: its base URL, port and runner."""

    url: str
    port: int
    runner: web.AppRunner

    @property
    def gateway(self) -> Gateway:
        return self.runner.app[GATEWAY_KEY]


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start_app(application: web.Application, **runner_options: object) -> Running:
    """Start an aiohttp application on a free loopback port."""
    runner = web.AppRunner(application, **runner_options)  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Running(f"http://127.0.0.1:{port}", port, runner)


StartUpstream = Callable[[web.Application], Awaitable[Running]]
StartProxy = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_upstream() -> AsyncIterator[StartUpstream]:
    """Start upstream applications; all are stopped when the test ends."""
    running: list[Running] = []

    async def start(application: web.Application) -> Running:
        server = await start_app(application)
        running.append(server)
        return server

    yield start
    for server in running:
        await server.runner.cleanup()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Config]:
    """Write YAML text to tmp_path/config.yaml and load it."""

    def write(text: str) -> Config:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    return write


@pytest.fixture
async def start_proxy(write_config: Callable[[str], Config]) -> AsyncIterator[StartProxy]:
    """Start a Guidegate application from YAML text; stopped when the test ends."""
    running: list[Running] = []

    async def start(text: str, configure: Callable[[Gateway], None] | None = None) -> Running:
        config = write_config(text)
        server = await start_app(create_app(config, configure=configure), access_log=None)
        if server.runner.server is not None:
            connections = server.runner.server
            server.gateway.metrics.track_connections(lambda: len(connections.connections))
        running.append(server)
        return server

    yield start
    for server in running:
        await server.runner.cleanup()
