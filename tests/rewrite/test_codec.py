"""Content codings: parsing, streaming decoding of every supported form, negotiation and re-encoding."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli  # type: ignore[import-untyped]
import pytest

from proxy.rewrite.codec import (
    PIECE_BYTES,
    CorruptBodyError,
    UnsupportedCodingError,
    choose_output_coding,
    make_decoder,
    make_encoder,
    parse_content_encoding,
    upstream_accept_encoding,
)

from .helpers import decode_body

TEXT = b"<html><head><title>Orders</title></head><body>" + b"<tr><td>PO-1</td></tr>" * 200 + b"</body></html>"
LARGE = bytes(range(256)) * 1000


def deflate(data: bytes, window: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, window)
    return compressor.compress(data) + compressor.flush()


def gzip(data: bytes) -> bytes:
    return deflate(data, 16 + zlib.MAX_WBITS)


def br(data: bytes) -> bytes:
    return bytes(brotli.compress(data))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, (), id="absent"),
        pytest.param("", (), id="empty"),
        pytest.param("identity", (), id="identity"),
        pytest.param("None", (), id="none"),
        pytest.param("GZIP", ("gzip",), id="upper-case"),
        pytest.param("x-gzip", ("gzip",), id="x-gzip"),
        pytest.param("deflate", ("deflate",), id="deflate"),
        pytest.param("br", ("br",), id="br"),
        pytest.param("gzip, br", ("gzip", "br"), id="stacked"),
        pytest.param("identity, gzip", ("gzip",), id="identity-in-list"),
    ],
)
def test_parse_content_encoding(value: str | None, expected: tuple[str, ...]) -> None:
    assert parse_content_encoding(value) == expected


@pytest.mark.parametrize("value", ["zstd", "gzip, compress", "sdch"])
def test_parse_content_encoding_unsupported(value: str) -> None:
    with pytest.raises(UnsupportedCodingError, match="unsupported Content-Encoding"):
        parse_content_encoding(value)


@pytest.mark.parametrize(
    ("codings", "body", "plain"),
    [
        pytest.param(("gzip",), gzip(TEXT), TEXT, id="gzip"),
        pytest.param(("deflate",), deflate(TEXT, zlib.MAX_WBITS), TEXT, id="deflate-zlib-wrapped"),
        pytest.param(("deflate",), deflate(TEXT, -zlib.MAX_WBITS), TEXT, id="deflate-raw"),
        pytest.param(("br",), br(TEXT), TEXT, id="br"),
        pytest.param(("br",), br(LARGE), LARGE, id="br-larger-than-a-piece"),
        pytest.param(("gzip", "br"), br(gzip(TEXT)), TEXT, id="gzip-then-br"),
        pytest.param(("br", "deflate"), deflate(br(TEXT), zlib.MAX_WBITS), TEXT, id="br-then-deflate"),
        pytest.param(("gzip",), gzip(TEXT[:100]) + gzip(TEXT[100:]), TEXT, id="gzip-two-members"),
        pytest.param(("gzip",), gzip(TEXT) + b"\x00\x00trailing", TEXT, id="gzip-trailing-bytes"),
        pytest.param((), TEXT, TEXT, id="identity"),
    ],
)
@pytest.mark.parametrize("size", [1, 7, 100_000])
def test_decoder(codings: tuple[str, ...], body: bytes, plain: bytes, size: int) -> None:
    decoder = make_decoder(codings)
    out: list[bytes] = []

    for start in range(0, len(body), size):
        out.extend(decoder.decode(body[start : start + size]))
    out.extend(decoder.flush())

    assert b"".join(out) == plain


@pytest.mark.parametrize(
    ("coding", "encode", "largest"),
    [
        pytest.param("gzip", gzip, PIECE_BYTES, id="gzip"),
        pytest.param("br", br, PIECE_BYTES * 3 // 2, id="br"),
    ],
)
def test_decoder_pieces_bounded(coding: str, encode: Callable[[bytes], bytes], largest: int) -> None:
    bomb = encode(b"\x00" * (50 * PIECE_BYTES))
    decoder = make_decoder((coding,))
    pieces = [*decoder.decode(bomb), *decoder.flush()]

    assert max(len(piece) for piece in pieces) <= largest
    assert sum(len(piece) for piece in pieces) == 50 * PIECE_BYTES


@pytest.mark.parametrize(
    ("codings", "body", "message"),
    [
        pytest.param(("gzip",), b"not gzip at all", "invalid gzip data", id="gzip-garbage"),
        pytest.param(("br",), b"\xff\xff\xff\xff garbage", "invalid br data", id="br-garbage"),
        pytest.param(("deflate",), b"\x78\x9c\xff\xff\xff", "invalid deflate data", id="deflate-garbage"),
    ],
)
def test_decoder_corrupt(codings: tuple[str, ...], body: bytes, message: str) -> None:
    decoder = make_decoder(codings)

    with pytest.raises(CorruptBodyError, match=message):
        list(decoder.decode(body))


@pytest.mark.parametrize(
    ("codings", "body", "message"),
    [
        pytest.param(("gzip",), gzip(TEXT)[:-20], "gzip body ends before", id="gzip"),
        pytest.param(("br",), br(TEXT)[:-5], "br body ends before", id="br"),
        pytest.param(("deflate",), b"\x78", "deflate body ends after 1 byte", id="deflate-one-byte"),
    ],
)
def test_decoder_truncated(codings: tuple[str, ...], body: bytes, message: str) -> None:
    decoder = make_decoder(codings)
    list(decoder.decode(body))

    with pytest.raises(CorruptBodyError, match=message):
        list(decoder.flush())


@pytest.mark.parametrize(
    ("upstream", "accept_encoding", "expected"),
    [
        pytest.param((), "gzip, br", "identity", id="identity-upstream"),
        pytest.param(("gzip",), "gzip, deflate, br", "gzip", id="same-as-upstream"),
        pytest.param(("gzip",), "x-gzip", "gzip", id="x-gzip-accepted"),
        pytest.param(("br",), "gzip, deflate", "identity", id="client-lacks-br"),
        pytest.param(("br",), "*", "br", id="wildcard"),
        pytest.param(("br",), "br;q=0, *;q=1", "identity", id="explicitly-refused"),
        pytest.param(("gzip",), None, "identity", id="no-accept-encoding"),
        pytest.param(("gzip", "br"), "gzip, br", "br", id="stacked-outermost"),
        pytest.param(("gzip", "br"), "gzip", "gzip", id="stacked-inner-accepted"),
        pytest.param(("deflate",), "deflate;q=0.5", "deflate", id="quality-value"),
    ],
)
def test_choose_output_coding(upstream: tuple[str, ...], accept_encoding: str | None, expected: str) -> None:
    assert choose_output_coding(upstream, accept_encoding) == expected


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        pytest.param("gzip, deflate, br, zstd", "gzip, deflate, br", id="drops-zstd"),
        pytest.param("br;q=0, gzip", "gzip", id="drops-refused"),
        pytest.param("zstd", "identity", id="nothing-supported"),
        pytest.param(None, "identity", id="absent"),
    ],
)
def test_upstream_accept_encoding(client: str | None, expected: str) -> None:
    assert upstream_accept_encoding(client) == expected


@pytest.mark.parametrize("coding", ["identity", "gzip", "deflate", "br"])
def test_encoder_round_trip(coding: str) -> None:
    encoder = make_encoder(coding)
    parts = [encoder.encode(TEXT[:500]), encoder.flush()]

    flushed = b"".join(parts)
    parts.extend([encoder.encode(TEXT[500:]), encoder.finish()])

    assert decode_body(b"".join(parts), coding) == TEXT
    if coding in ("gzip", "deflate"):
        partial = zlib.decompressobj(16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS)
        assert partial.decompress(flushed) == TEXT[:500]


def test_encoder_unknown() -> None:
    with pytest.raises(UnsupportedCodingError, match="cannot encode 'zstd'"):
        make_encoder("zstd")
