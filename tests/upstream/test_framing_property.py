"""Property: any valid response, cut into any pieces that arrive apart, gives back its exact head and body."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import Peer, Upstream, read_all

HEADER_NAMES = st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True)
# Field values as llhttp delivers them: visible ASCII at both ends, since surrounding whitespace is dropped.
HEADER_VALUES = st.from_regex(r"([!-~]([ !-~]{0,30}[!-~])?)?", fullmatch=True)


def frame(status: int, headers: list[tuple[str, str]], body: bytes, chunks: list[int] | None) -> bytes:
    """Serialize a response; `chunks` gives the chunk sizes of a chunked body, and None selects Content-Length."""
    lines = [f"HTTP/1.1 {status} Reason {status}\r\n", *(f"{name}: {value}\r\n" for name, value in headers)]
    if chunks is None:
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        return "".join(lines).encode() + body
    lines.append("Transfer-Encoding: chunked\r\n\r\n")
    wire = bytearray("".join(lines).encode())
    start = 0
    for size in chunks:
        piece = body[start : start + size]
        if piece:
            wire += b"%x\r\n%b\r\n" % (len(piece), piece)
        start += size
    if start < len(body):
        wire += b"%x\r\n%b\r\n" % (len(body) - start, body[start:])
    wire += b"0\r\n\r\n"
    return bytes(wire)


async def exchange(wire: bytes, cuts: list[int], pauses: list[bool]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Serve `wire` in pieces split at `cuts`, each followed by a loop turn or a 1 ms pause; return what the client got."""
    edges = [0, *sorted({cut % (len(wire) + 1) for cut in cuts}), len(wire)]

    async def handle(peer: Peer) -> None:
        await peer.read_head()
        for index, (start, end) in enumerate(zip(edges, edges[1:])):
            await peer.send(wire[start:end])
            await asyncio.sleep(0.001 if pauses[index % len(pauses)] else 0)
        await peer.read_until_closed()

    upstream = Upstream(handle)
    await upstream.start()
    try:
        pool = upstream.pool()
        response = await upstream.request(pool)
        body = await read_all(response)
        response.close()
        return response.status, response.reason, list(response.headers.items()), body
    finally:
        await upstream.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from([200, 201, 206, 404, 500]),
    headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8),
    body=st.binary(max_size=4096),
    chunked=st.booleans(),
    chunks=st.lists(st.integers(min_value=1, max_value=2048), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    pauses=st.lists(st.booleans(), min_size=1, max_size=4),
)
def test_framing_property(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    chunked: bool,
    chunks: list[int],
    cuts: list[int],
    pauses: list[bool],
) -> None:
    wire = frame(status, headers, body, chunks if chunked else None)
    framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(len(body)))

    received = asyncio.run(exchange(wire, cuts, pauses))

    assert received == (status, f"Reason {status}", [*headers, framing], body)
