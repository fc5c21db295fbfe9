"""Relay a WebSocket upgrade to the upstream and pass messages both ways until either side closes."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

logger = logging.getLogger(__name__)

# aiohttp's client writes its own handshake headers; copies of the browser's would conflict.
_HANDSHAKE_HEADERS = (
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol",
)


def is_websocket_upgrade(request: web.Request) -> bool:
    """Return whether the request requests an upgrade of the connection to a WebSocket."""
    connection = request.headers.get("Connection", "").lower()
    return request.headers.get("Upgrade", "").lower() == "websocket" and "upgrade" in connection


async def relay(
    request: web.Request,
    session: aiohttp.ClientSession,
    url: str,
    headers: CIMultiDict[str],
    connect_timeout: float,
    app: str,
    request_id: str,
) -> web.StreamResponse | None:
    """Open the upstream WebSocket, then accept the client's and relay until one side closes.

    Returns None when the upstream refused the handshake, so the caller responds with 502.
    """
    for name in _HANDSHAKE_HEADERS:
        headers.popall(name, None)
    protocols = [item.strip() for item in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if item.strip()]
    ws_url = "ws" + url[4:] if url.startswith("http") else url
    try:
        upstream = await session.ws_connect(
            URL(ws_url, encoded=True),
            headers=headers,
            protocols=protocols,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
            autoping=False,
            max_msg_size=0,
        )
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        logger.warning("app %s: WebSocket handshake with %s failed (request %s): %s", app, url, request_id, error)
        return None

    client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (), autoping=False, max_msg_size=0)
    await client.prepare(request)
    logger.debug("app %s: WebSocket relay open (request %s)", app, request_id)
    to_upstream = asyncio.ensure_future(_pump(client, upstream))
    to_client = asyncio.ensure_future(_pump(upstream, client))
    try:
        await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_upstream, to_client):
            task.cancel()
        await asyncio.gather(to_upstream, to_client, return_exceptions=True)
        # The cancelled pump may not have closed its side yet, so each side gets the other's close
        # code. Closing a side that is already closed does nothing.
        await upstream.close(code=_relayable(client.close_code))
        await client.close(code=_relayable(upstream.close_code))
        logger.debug("app %s: WebSocket relay closed (request %s)", app, request_id)
    return client


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse, target: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await target.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await target.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.PING:
            await target.ping(message.data)
        elif message.type == aiohttp.WSMsgType.PONG:
            await target.pong(message.data)
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            break
    await target.close(code=_relayable(source.close_code))


_RESERVED_CLOSE_CODES = frozenset({1005, 1006, 1015})
"""Close codes that report a local condition and must not be sent in a Close frame (RFC 6455, section 7.4.1)."""


def _relayable(code: int | None) -> int:
    """Return a close code that may be sent on to the other side: `code`, or 1000 when it is absent or reserved."""
    if code is None or code in _RESERVED_CLOSE_CODES:
        return aiohttp.WSCloseCode.OK
    return code
