"""The choice of event loop: uvloop when installed and asked for, asyncio's own otherwise."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from aiohttp import http_writer, web

from proxy import eventloop
from proxy.errors import GuidegateError
from tests.loopback import serve


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param("auto", "uvloop", id="auto"),
        pytest.param("uvloop", "uvloop", id="uvloop"),
        pytest.param("asyncio", "asyncio", id="asyncio"),
    ],
)
def test_loop_factory(choice: eventloop.LoopChoice, expected: str) -> None:
    loop = eventloop.loop_factory(choice)()
    try:
        assert eventloop.loop_name(loop) == expected
    finally:
        loop.close()


def test_auto_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "uvloop_available", lambda: False)

    assert eventloop.loop_factory("auto") is asyncio.new_event_loop


def test_uvloop_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` raise ImportError

    with pytest.raises(GuidegateError) as raised:
        eventloop.loop_factory("uvloop")

    assert str(raised.value) == (
        "event_loop is 'uvloop', but the uvloop package is not installed; "
        "install it (pip install uvloop) or set event_loop to 'auto' or 'asyncio'"
    )


def test_run_closes_loop() -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        seen.append(asyncio.get_running_loop())

    eventloop.run(main(), "uvloop")

    assert eventloop.loop_name(seen[0]) == "uvloop"
    assert seen[0].is_closed()


@pytest.mark.parametrize(("choice", "joined"), [pytest.param("uvloop", False, id="uvloop"), pytest.param("asyncio", True, id="asyncio")])
def test_run_vectored_writes(monkeypatch: pytest.MonkeyPatch, choice: eventloop.LoopChoice, joined: bool) -> None:
    """On uvloop a head and a large body leave as separate buffers, and the client still gets every byte."""
    monkeypatch.setattr(http_writer, "SKIP_WRITELINES", True)
    body = bytes(range(256)) * 1200  # 300 KiB, above aiohttp's writelines threshold
    received: list[bytes] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response

    async def main() -> None:
        runner, port = await serve(handler)
        try:
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as response:
                received.append(await response.read())
        finally:
            await runner.cleanup()

    eventloop.run(main(), choice)

    assert received == [body]
    assert http_writer.SKIP_WRITELINES is joined
