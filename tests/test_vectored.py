"""A response head and a body in pieces sent together with one writelines call, on both event loops.

The responses are RelayedResponse, the forwarder's own, which keeps its head buffered until the first body write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import http_writer, web
from aiohttp.abc import AbstractStreamWriter

from proxy import eventloop
from proxy.forward import RelayedResponse
from proxy.vectored import can_send_with_head, send_with_head
from tests.loopback import Handler, serve

def pieces_of(body: bytes) -> list[bytes | memoryview]:
    """Split `body` into a bytes piece, a memoryview piece and a bytes piece, as the injection path produces."""
    third = len(body) // 3
    return [body[:third], memoryview(body)[third : 2 * third], body[2 * third :]]


async def fetch_raw(port: int, *, pause_before_reading: float = 0.0, ready: asyncio.Event | None = None) -> bytes:
    """Send one GET and read the whole response until the server closes; return its bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    await writer.drain()
    if pause_before_reading:
        await asyncio.sleep(pause_before_reading)
    if ready is not None:
        ready.set()
    data = await reader.read()
    writer.close()
    return data


def fetch_on_loop(handler: Handler, choice: eventloop.LoopChoice, **options: Any) -> bytes:
    """Serve `handler` on a new event loop of kind `choice`, fetch one response with `fetch_raw`, and return its bytes."""
    received: list[bytes] = []

    async def main() -> None:
        runner, port = await serve(handler)
        try:
            received.append(await fetch_raw(port, **options))
        finally:
            await runner.cleanup()

    eventloop.run(main(), choice)
    return received[0]


def split_response(data: bytes) -> tuple[list[bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_head_and_pieces_arrive_whole(monkeypatch: pytest.MonkeyPatch, choice: eventloop.LoopChoice) -> None:
    monkeypatch.setattr(http_writer, "SKIP_WRITELINES", True)
    body = bytes(range(256)) * 1200  # 300 KiB, above aiohttp's writelines threshold
    checks: list[bool] = []
    calls: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = RelayedResponse(headers={"Content-Type": "text/html"})
        response.content_length = len(body)
        writer = await response.prepare(request)
        assert writer is not None
        checks.append(can_send_with_head(writer))
        # aiohttp's _writelines hands the buffers to transport.writelines, or joins them when SKIP_WRITELINES is set.
        original = writer._writelines  # type: ignore[attr-defined]

        def counting(chunks: Any) -> None:
            chunks = list(chunks)
            calls.append(len(chunks))
            original(chunks)

        writer._writelines = counting  # type: ignore[attr-defined]
        await send_with_head(writer, pieces_of(body), len(body))
        await response.write_eof()
        return response

    lines, got = split_response(fetch_on_loop(handler, choice))
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert f"Content-Length: {len(body)}".encode() in lines
    assert got == body
    assert checks == [True]
    # One call with the head and the three pieces. On uvloop they reach the transport unjoined.
    assert calls == [4]
    assert http_writer.SKIP_WRITELINES is (choice == "asyncio")


async def test_no_head_send_after_write() -> None:
    seen: list[tuple[str, bool]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = RelayedResponse()
        response.content_length = 4
        writer = await response.prepare(request)
        assert writer is not None
        seen.append(("prepared", can_send_with_head(writer)))
        await response.write(b"ab")
        seen.append(("after a write", can_send_with_head(writer)))
        await response.write(b"cd")
        await response.write_eof()
        return response

    runner, port = await serve(handler)
    try:
        data = await fetch_raw(port)
    finally:
        await runner.cleanup()
    assert split_response(data)[1] == b"abcd"
    assert seen == [("prepared", True), ("after a write", False)]


@pytest.mark.parametrize(
    ("case", "setup"),
    [
        pytest.param("chunked", lambda response: response.enable_chunked_encoding(), id="chunked"),
        pytest.param("compressed", lambda response: response.enable_compression(), id="compressed"),
    ],
)
async def test_no_head_send_chunked_or_compressed(case: str, setup: Callable[[web.StreamResponse], None]) -> None:
    seen: list[bool] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = RelayedResponse()
        setup(response)
        writer = await response.prepare(request)
        assert writer is not None
        seen.append(can_send_with_head(writer))
        await response.write(b"body")
        await response.write_eof()
        return response

    runner, port = await serve(handler)
    try:
        await fetch_raw(port)
    finally:
        await runner.cleanup()
    assert seen == [False], case


def test_no_head_send_other_writer() -> None:
    class OtherWriter(AbstractStreamWriter):
        async def write(self, chunk: Any) -> None: ...
        async def write_eof(self, chunk: bytes = b"") -> None: ...
        async def drain(self) -> None: ...
        def enable_compression(self, encoding: str = "deflate", strategy: Any = None) -> None: ...
        def enable_chunking(self) -> None: ...
        async def write_headers(self, status_line: str, headers: Any) -> None: ...
        def send_headers(self) -> None: ...

    assert can_send_with_head(OtherWriter()) is False


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_slow_client_delays_sender(monkeypatch: pytest.MonkeyPatch, choice: eventloop.LoopChoice) -> None:
    """A body larger than the socket buffers takes until the client reads: the sender waits, and no byte is lost."""
    monkeypatch.setattr(http_writer, "SKIP_WRITELINES", True)
    body = bytes(range(251)) * (64 * 1024)  # about 16 MiB, more than the loopback socket buffers take by default (estimate)
    events: list[str] = []
    reading = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = RelayedResponse()
        response.content_length = len(body)
        writer = await response.prepare(request)
        assert writer is not None and can_send_with_head(writer)
        await send_with_head(writer, pieces_of(body), len(body))
        events.append("sent while reading" if reading.is_set() else "sent before reading")
        await response.write_eof()
        return response

    data = fetch_on_loop(handler, choice, pause_before_reading=0.3, ready=reading)

    assert events == ["sent while reading"]
    assert split_response(data)[1] == body
