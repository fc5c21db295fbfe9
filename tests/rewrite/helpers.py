"""Shared fixtures of the rewriting tests: a runtime location, decisions from real heads, chunked feeding."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Mapping

import brotli  # type: ignore[import-untyped]
from multidict import CIMultiDict

from proxy.config.inject import InjectConfig
from proxy.rewrite import Decision, DocumentRewriter, RuntimeLocation, build_snippet, decide

ORIGIN = "https://erp.example.com"
PREFIX = "/__guidegate/"
VERSION = "1.0.0"
RUNTIME = RuntimeLocation(ORIGIN, PREFIX, VERSION)
NAVIGATION = {"Sec-Fetch-Dest": "document", "Accept-Encoding": "gzip, deflate, br"}


def snippet(nonce: str | None = None, *, xhtml: bool = False) -> bytes:
    """The snippet the tests insert, for the app "erp"."""
    return build_snippet(origin=ORIGIN, prefix=PREFIX, version=VERSION, app="erp", nonce=nonce, xhtml=xhtml)


def make_decision(
    content_type: str = "text/html",
    *,
    request: Mapping[str, str] | None = None,
    response: Mapping[str, str] | None = None,
    config: InjectConfig | None = None,
) -> Decision:
    """Decide for a GET 200 navigation with the given Content-Type and extra response headers."""
    headers = CIMultiDict({"Content-Type": content_type})
    headers.extend(response or {})
    return decide(
        "GET", request if request is not None else NAVIGATION, 200, headers, config or InjectConfig(), runtime=RUNTIME
    )


def cut(data: bytes, way: str, seed: str) -> list[bytes]:
    """Split `data` into chunks: "whole", "random" (fixed seed per case) or "bytes" (one byte each)."""
    if way == "whole":
        return [data]
    if way == "bytes":
        return [data[index : index + 1] for index in range(len(data))]
    generator = random.Random(seed)
    points = sorted(generator.sample(range(1, len(data)), min(len(data) - 1, 7))) if len(data) > 1 else []
    edges = [0, *points, len(data)]
    return [data[start:end] for start, end in zip(edges, edges[1:])]


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def br_bytes(data: bytes) -> bytes:
    return bytes(brotli.compress(data))


def decode_body(data: bytes, coding: str) -> bytes:
    """Undo a content coding the way a browser does."""
    if coding == "gzip":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompress(data)
    if coding == "br":
        return bytes(brotli.decompress(data))
    return data


def rewrite(
    decision: Decision,
    chunks: Iterable[bytes],
    *,
    accept_encoding: str | None = "gzip, deflate, br",
    snippet_for: Callable[[str | None], bytes] | bytes | None = None,
    lookahead: int = 64 * 1024,
) -> tuple[bytes, DocumentRewriter]:
    """Run a DocumentRewriter over `chunks`; return everything it sent and the rewriter."""
    rewriter = DocumentRewriter(
        decision,
        snippet_for if snippet_for is not None else (lambda nonce: snippet(nonce, xhtml=decision.xhtml)),
        accept_encoding=accept_encoding,
        lookahead=lookahead,
        request_id="test",
    )
    out = [rewriter.feed(chunk) for chunk in chunks]
    out.append(rewriter.finish())
    return b"".join(out), rewriter
