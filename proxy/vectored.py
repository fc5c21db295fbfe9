"""Sending a response head and a whole body of several pieces in one vectored write."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import http_writer, web
from aiohttp.abc import AbstractStreamWriter

logger = logging.getLogger(__name__)

DRAIN_ABOVE = 0x10000
"""Bytes in the transport's buffer above which the sender waits for it to drain, as aiohttp's own write() does."""


def can_send_with_head(writer: AbstractStreamWriter) -> bool:
    """Return whether `writer` has the response head buffered, unsent, and writes plain, unchunked bytes.

    aiohttp's StreamWriter keeps the head of a prepared response in a buffer and sends it with the
    first body write. Its write() takes one buffer, so a body in pieces would have to be joined, a
    copy of the whole body. When this returns True, `send_with_head` hands the head and the pieces
    to aiohttp in one call instead, which spares that copy where aiohttp uses the transport's
    writelines (see `send_with_head`). The attributes read here are private to aiohttp's StreamWriter
    (as of aiohttp 3.14). With another writer, or an aiohttp without them, this returns False and the
    caller joins the pieces.
    """
    if type(writer) is not http_writer.StreamWriter:
        return False
    return (
        getattr(writer, "_headers_buf", None) is not None
        and getattr(writer, "_headers_written", True) is False
        and getattr(writer, "_compress", True) is None
        and not writer.chunked
    )


async def send_with_head(writer: AbstractStreamWriter, pieces: Sequence[bytes | memoryview], length: int) -> None:
    """Write the buffered head and `pieces` (`length` bytes in all) in one call of the writer's `_writelines`.

    Call only when `can_send_with_head(writer)` is True. aiohttp 3.14 passes the buffers on to the
    transport's writelines, which on uvloop sends them in one writev(). It joins them into one write
    instead for less than 2 KiB in all, and on Python before 3.12.9 or 3.13.0 to 3.13.1, whose
    asyncio writelines it avoids (SKIP_WRITELINES in aiohttp/http_writer.py). Waits for the transport
    to drain when its buffer grew past DRAIN_ABOVE, so a slow client delays this response rather than
    filling memory.
    """
    assert isinstance(writer, http_writer.StreamWriter)
    head = writer._headers_buf
    assert head is not None
    writer._headers_buf = None
    writer._headers_written = True
    if writer.length is not None:
        writer.length = max(writer.length - length, 0)
    writer._writelines((head, *pieces))
    if writer.buffer_size > DRAIN_ABOVE:
        writer.buffer_size = 0
        await writer.drain()


async def write_pieces(
    response: web.StreamResponse, writer: AbstractStreamWriter | None, pieces: Sequence[bytes | memoryview], length: int
) -> None:
    """Write `pieces` (`length` bytes) as the next body bytes of a prepared `response`.

    A response of known length whose head is still buffered sends head and pieces in one call of
    `send_with_head`. Otherwise the pieces are joined into one write.
    """
    if writer is not None and response.content_length is not None and can_send_with_head(writer):
        await send_with_head(writer, pieces, length)
    elif length:
        await response.write(b"".join(pieces))
