"""Content codings: streaming decoders for what the upstream sent, encoders for what the client accepts."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Protocol

import brotli  # type: ignore[import-untyped]

from proxy.errors import GuidegateError

PIECE_BYTES = 64 * 1024
"""Size of the decoded pieces a compressed chunk is split into, so it cannot expand unbounded in memory.
zlib stops exactly there. brotli grows its buffer in steps and may return up to about 1.5 times as much."""

GZIP_LEVEL = 4
BROTLI_QUALITY = 4
"""Re-encoding levels: near the speed of copying, at some cost in ratio (a page is compressed once per request)."""

_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate", "br": "br"}
_IDENTITY = frozenset({"", "identity", "none"})
SUPPORTED_CODINGS = ("gzip", "deflate", "br")


class UnsupportedCodingError(GuidegateError):
    """The response uses a content coding that this module cannot decode."""


class CorruptBodyError(GuidegateError):
    """The compressed body is invalid or ends before its compressed stream does."""


def parse_content_encoding(value: str | None) -> tuple[str, ...]:
    """Return the codings of a Content-Encoding value in the order they were applied.

    "x-gzip" counts as "gzip"; "identity", "none" and empty items are dropped. Raises
    UnsupportedCodingError naming the first coding that cannot be decoded.
    """
    codings: list[str] = []
    for item in (value or "").split(","):
        token = item.strip().lower()
        if token in _IDENTITY:
            continue
        if token not in _CODINGS:
            raise UnsupportedCodingError(
                f"unsupported Content-Encoding '{item.strip()}'; expected gzip, x-gzip, deflate, br or identity"
            )
        codings.append(_CODINGS[token])
    return tuple(codings)


def parse_accept_encoding(value: str | None) -> dict[str, float]:
    """Return the quality value of each coding an Accept-Encoding value lists ("x-gzip" as "gzip")."""
    qualities: dict[str, float] = {}
    for item in (value or "").split(","):
        token, _, parameters = item.partition(";")
        token = token.strip().lower()
        if not token:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, raw = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(raw.strip())
                except ValueError:
                    quality = 0.0
        qualities[_CODINGS.get(token, token)] = quality
    return qualities


def accepts(accept_encoding: str | None, coding: str) -> bool:
    """Tell whether a client's Accept-Encoding allows `coding`; a missing header allows identity only."""
    if coding == "identity":
        return True
    qualities = parse_accept_encoding(accept_encoding)
    if coding in qualities:
        return qualities[coding] > 0
    return qualities.get("*", 0.0) > 0


def choose_output_coding(upstream_codings: Sequence[str], accept_encoding: str | None) -> str:
    """Pick the coding sent to the client: the upstream's outermost coding the client accepts, else identity."""
    for coding in reversed(upstream_codings):
        if accepts(accept_encoding, coding):
            return coding
    return "identity"


def upstream_accept_encoding(client_accept_encoding: str | None) -> str:
    """Limit a client's Accept-Encoding to codings this module decodes, for the request sent upstream.

    The upstream then never sends a document in a coding the rewriter cannot decode (zstd, for
    instance), and usually sends one the client accepts, which is then kept.
    """
    kept = [
        coding
        for coding, quality in parse_accept_encoding(client_accept_encoding).items()
        if quality > 0 and coding in SUPPORTED_CODINGS
    ]
    return ", ".join(kept) if kept else "identity"


class Decoder(Protocol):
    """A streaming decoder of one or more content codings."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded bytes of `data` in pieces of at most PIECE_BYTES; raise CorruptBodyError."""
        ...

    def flush(self) -> Iterator[bytes]:
        """Yield what remains at the end of the body; raise CorruptBodyError if the stream is cut short."""
        ...


class Encoder(Protocol):
    """A streaming encoder for the client."""

    def encode(self, data: bytes) -> bytes:
        """Return encoded bytes for `data`; the encoder may keep some back until `flush`."""
        ...

    def flush(self) -> bytes:
        """Return everything kept back, so the client can decode all bytes given so far."""
        ...

    def finish(self) -> bytes:
        """Return the end of the encoded stream."""
        ...


class IdentityDecoder:
    """Decoder for a body without content coding."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def flush(self) -> Iterator[bytes]:
        return iter(())


class IdentityEncoder:
    """Encoder that sends bytes as they are."""

    def encode(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""

    def finish(self) -> bytes:
        return b""


class ZlibDecoder:
    """Decoder for gzip (several members too) and deflate, with or without the zlib wrapper."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._decompressor: zlib._Decompress | None = None
        self._pending = b""
        self._finished = False
        if coding == "gzip":
            self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._decompressor is None:
            # Servers disagree on "deflate": most send a zlib stream, some raw deflate. The first
            # two bytes tell them apart (a zlib header is a multiple of 31 with method 8).
            self._pending += data
            if len(self._pending) < 2:
                return
            data, self._pending = self._pending, b""
            self._decompressor = zlib.decompressobj(zlib.MAX_WBITS if _is_zlib_header(data) else -zlib.MAX_WBITS)
        decompressor = self._decompressor
        while data and not self._finished:
            if decompressor.eof:
                # Another gzip member may follow; anything else after the end of the compressed
                # stream is not content, and browsers drop it too.
                data, self._pending = self._pending + data, b""
                if self._coding == "gzip" and len(data) < 2:
                    self._pending = data
                    return
                if self._coding != "gzip" or not data.startswith(b"\x1f\x8b"):
                    self._finished = True
                    return
                decompressor = self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                piece = decompressor.decompress(data, PIECE_BYTES)
            except zlib.error as error:
                raise CorruptBodyError(f"invalid {self._coding} data: {error}") from error
            if piece:
                yield piece
            data = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail

    def flush(self) -> Iterator[bytes]:
        if self._decompressor is None:
            if self._pending:
                raise CorruptBodyError(f"{self._coding} body ends after {len(self._pending)} byte")
            return iter(())
        if not self._decompressor.eof and not self._finished:
            raise CorruptBodyError(f"{self._coding} body ends before its compressed stream does")
        return iter(())


def _is_zlib_header(data: bytes) -> bool:
    return data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and ((data[0] << 8) | data[1]) % 31 == 0


class BrotliDecoder:
    """Decoder for br."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._decompressor.is_finished():
            return
        try:
            piece: bytes = self._decompressor.process(data, output_buffer_limit=PIECE_BYTES)
            if piece:
                yield piece
            # A full output buffer means more output is pending even when the decoder already
            # reports that it can take more input (brotli 1.2), so drain until a piece comes short.
            while len(piece) >= PIECE_BYTES or not self._decompressor.can_accept_more_data():
                piece = self._decompressor.process(b"", output_buffer_limit=PIECE_BYTES)
                if piece:
                    yield piece
        except brotli.error as error:
            raise CorruptBodyError(f"invalid br data: {error}") from error

    def flush(self) -> Iterator[bytes]:
        if not self._decompressor.is_finished():
            raise CorruptBodyError("br body ends before its compressed stream does")
        return iter(())


class ChainDecoder:
    """Decoder for stacked codings: the last one applied is undone first."""

    def __init__(self, decoders: Sequence[Decoder]) -> None:
        self._decoders = list(decoders)

    def decode(self, data: bytes) -> Iterator[bytes]:
        yield from self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            for piece in decoder.flush():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._decoders):
            yield data
            return
        for piece in self._decoders[index].decode(data):
            yield from self._through(index + 1, piece)


def make_decoder(codings: Sequence[str]) -> Decoder:
    """Build the decoder for codings as `parse_content_encoding` returns them."""
    decoders: list[Decoder] = []
    for coding in reversed(codings):
        decoders.append(BrotliDecoder() if coding == "br" else ZlibDecoder(coding))
    if not decoders:
        return IdentityDecoder()
    return decoders[0] if len(decoders) == 1 else ChainDecoder(decoders)


class ZlibEncoder:
    """Encoder for gzip and deflate (zlib-wrapped, the form every browser decodes)."""

    def __init__(self, coding: str) -> None:
        window = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, window)
        self._pending = False

    def encode(self, data: bytes) -> bytes:
        if not data:
            return b""
        self._pending = True
        return self._compressor.compress(data)

    def flush(self) -> bytes:
        if not self._pending:
            return b""
        self._pending = False
        return self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._compressor.flush(zlib.Z_FINISH)


class BrotliEncoder:
    """Encoder for br."""

    def __init__(self) -> None:
        self._compressor = brotli.Compressor(mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY)
        self._pending = False

    def encode(self, data: bytes) -> bytes:
        if not data:
            return b""
        self._pending = True
        return bytes(self._compressor.process(data))

    def flush(self) -> bytes:
        if not self._pending:
            return b""
        self._pending = False
        return bytes(self._compressor.flush())

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())


def make_encoder(coding: str) -> Encoder:
    """Build the encoder for "identity", "gzip", "deflate" or "br"."""
    if coding == "identity":
        return IdentityEncoder()
    if coding == "br":
        return BrotliEncoder()
    if coding in ("gzip", "deflate"):
        return ZlibEncoder(coding)
    raise UnsupportedCodingError(f"cannot encode '{coding}'; expected identity, gzip, deflate or br")
