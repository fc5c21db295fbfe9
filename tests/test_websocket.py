"""WebSocket relay: messages both ways, close codes, subprotocols, and a refused upstream handshake."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from conftest import Running, StartProxy, StartUpstream

STEP_TIMEOUT = 5.0


async def start_ws_upstream(start_upstream: StartUpstream, closed_with: asyncio.Queue[int | None]) -> Running:
    async def echo(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"))
        await socket.prepare(request)
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT and message.data == "close please":
                await socket.close(code=4000, message=b"asked to close")
            elif message.type == aiohttp.WSMsgType.TEXT:
                await socket.send_str(f"echo {message.data} path={request.path_qs}")
            elif message.type == aiohttp.WSMsgType.BINARY:
                await socket.send_bytes(b"echo " + message.data)
        closed_with.put_nowait(socket.close_code)
        return socket

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="no sockets for you")

    application = web.Application()
    application.router.add_get("/app/socket", echo)
    application.router.add_get("/app/refused", refuse)
    return await start_upstream(application)


def config_for(upstream: Running) -> str:
    return f"apps:\n  - name: web\n    upstream: {upstream.url}/app/\n    path_prefix: /erp/\n"


async def test_messages_relayed(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    closed_with: asyncio.Queue[int | None] = asyncio.Queue()
    upstream = await start_ws_upstream(start_upstream, closed_with)
    proxy = await start_proxy(config_for(upstream))

    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{proxy.url}/erp/socket?room=7") as socket:
            await socket.send_str("hello")
            text = await asyncio.wait_for(socket.receive(), STEP_TIMEOUT)
            await socket.send_bytes(b"\x00\x01\xff")
            binary = await asyncio.wait_for(socket.receive(), STEP_TIMEOUT)

    assert (text.type, text.data) == (aiohttp.WSMsgType.TEXT, "echo hello path=/app/socket?room=7")
    assert (binary.type, binary.data) == (aiohttp.WSMsgType.BINARY, b"echo \x00\x01\xff")


async def test_upstream_close_code_relayed(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    closed_with: asyncio.Queue[int | None] = asyncio.Queue()
    upstream = await start_ws_upstream(start_upstream, closed_with)
    proxy = await start_proxy(config_for(upstream))

    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{proxy.url}/erp/socket") as socket:
            await socket.send_str("close please")
            message = await asyncio.wait_for(socket.receive(), STEP_TIMEOUT)

    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 4000
    assert socket.close_code == 4000


async def test_client_close_code_relayed(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    closed_with: asyncio.Queue[int | None] = asyncio.Queue()
    upstream = await start_ws_upstream(start_upstream, closed_with)
    proxy = await start_proxy(config_for(upstream))

    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{proxy.url}/erp/socket") as socket:
            await socket.send_str("ping")
            await asyncio.wait_for(socket.receive(), STEP_TIMEOUT)
            await socket.close(code=4001)

    assert await asyncio.wait_for(closed_with.get(), STEP_TIMEOUT) == 4001


async def test_client_vanishing_closes_upstream(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    closed_with: asyncio.Queue[int | None] = asyncio.Queue()
    upstream = await start_ws_upstream(start_upstream, closed_with)
    proxy = await start_proxy(config_for(upstream))

    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(
        b"GET /erp/socket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
    writer.close()
    await writer.wait_closed()

    assert head.startswith(b"HTTP/1.1 101 ")
    # The proxy closes the upstream side normally: 1006 is a local status that no Close frame may carry.
    assert await asyncio.wait_for(closed_with.get(), STEP_TIMEOUT) == 1000


PROTOCOLS = [
    pytest.param(("chat.v1",), "chat.v1", id="one-offered"),
    pytest.param(("chat.v3", "chat.v1", "chat.v2"), "chat.v1", id="upstream-choice"),
    pytest.param(("other",), None, id="none-shared"),
    pytest.param((), None, id="none-offered"),
]


@pytest.mark.parametrize(("offered", "chosen"), PROTOCOLS)
async def test_subprotocol_negotiated(
    start_upstream: StartUpstream, start_proxy: StartProxy, offered: tuple[str, ...], chosen: str | None
) -> None:
    closed_with: asyncio.Queue[int | None] = asyncio.Queue()
    upstream = await start_ws_upstream(start_upstream, closed_with)
    proxy = await start_proxy(config_for(upstream))

    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{proxy.url}/erp/socket", protocols=offered) as socket:
            protocol = socket.protocol

    assert protocol == chosen


async def test_refused_handshake_is_502(start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    closed_with: asyncio.Queue[int | None] = asyncio.Queue()
    upstream = await start_ws_upstream(start_upstream, closed_with)
    proxy = await start_proxy(config_for(upstream))

    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await client.ws_connect(f"{proxy.url}/erp/refused")

    assert raised.value.status == 502
    metrics = proxy.gateway.metrics.render().decode()
    assert 'guidegate_upstream_errors_total{app="web",kind="websocket_handshake"} 1.0' in metrics.splitlines()
