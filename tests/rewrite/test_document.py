"""The per-response pipeline: headers, codings end to end, CSP nonces, and failing open."""

from __future__ import annotations

import logging
import zlib

import pytest
from multidict import CIMultiDict

from proxy.config.inject import InjectConfig
from proxy.rewrite import DocumentRewriter

from .helpers import RUNTIME, br_bytes, cut, decode_body, gzip_bytes, make_decision, rewrite, snippet

PAGE = b"<!DOCTYPE html><html><head><title>Orders</title></head><body>" + b"<p>row</p>" * 2000 + b"</body></html>"
INJECTED = PAGE.replace(b"<head>", b"<head>" + snippet(), 1)
HTML = "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("encoding", "body", "accept", "output"),
    [
        pytest.param("gzip", gzip_bytes(PAGE), "gzip, br", "gzip", id="gzip-kept"),
        pytest.param("br", br_bytes(PAGE), "gzip, br", "br", id="br-kept"),
        pytest.param("br", br_bytes(PAGE), "gzip", "identity", id="br-to-identity"),
        pytest.param("deflate", zlib.compress(PAGE), "deflate", "deflate", id="deflate-zlib"),
        pytest.param("deflate", zlib.compress(PAGE)[2:-4], "deflate", "deflate", id="deflate-raw"),
        pytest.param("gzip, br", br_bytes(gzip_bytes(PAGE)), "gzip, br", "br", id="stacked"),
        pytest.param("identity", PAGE, "gzip", "identity", id="identity"),
    ],
)
def test_document_codings(encoding: str, body: bytes, accept: str, output: str) -> None:
    decision = make_decision(HTML, response={"Content-Encoding": encoding})

    sent, rewriter = rewrite(decision, cut(body, "random", encoding), accept_encoding=accept)

    assert rewriter.output_coding == output
    assert decode_body(sent, output) == INJECTED
    assert rewriter.outcome == "injected"


def test_document_headers() -> None:
    upstream = CIMultiDict(
        [
            ("Content-Type", HTML),
            ("Content-Encoding", "gzip"),
            ("Content-Length", "999"),
            ("ETag", '"abc"'),
            ("Accept-Ranges", "bytes"),
            ("Cache-Control", "no-cache"),
        ]
    )
    decision = make_decision(HTML, response={"Content-Encoding": "gzip"})
    rewriter = DocumentRewriter(decision, snippet(), accept_encoding="gzip")

    assert list(rewriter.headers(upstream).items()) == [
        ("Content-Type", HTML),
        ("ETag", 'W/"abc-gg"'),
        ("Cache-Control", "no-cache"),
        ("Content-Encoding", "gzip"),
        ("Vary", "Accept-Encoding"),
    ]


def test_document_amended_csp_header() -> None:
    config = InjectConfig(csp="amend")
    policy = {"Content-Security-Policy": "default-src 'self'; script-src 'none'"}
    decision = make_decision(HTML, response=policy, config=config)
    rewriter = DocumentRewriter(decision, snippet(), accept_encoding=None)

    headers = rewriter.headers(CIMultiDict({"Content-Type": HTML, **policy}))

    assert headers.getall("Content-Security-Policy") == [f"default-src 'self'; script-src {RUNTIME.script_url}"]


def test_document_header_nonce() -> None:
    decision = make_decision(HTML, response={"Content-Security-Policy": "script-src 'nonce-Zm9v' 'strict-dynamic'"})

    sent, rewriter = rewrite(decision, [b"<html><head><title>x</title>"])

    assert sent == b"<html><head>" + snippet("Zm9v") + b"<title>x</title>"


def test_document_static_snippet_cannot_carry_nonce() -> None:
    decision = make_decision(HTML, response={"Content-Security-Policy": "script-src 'nonce-Zm9v'"})

    sent, rewriter = rewrite(decision, [b"<html><head><title>x</title>"], snippet_for=snippet())

    assert sent == b"<html><head><title>x</title>"
    assert rewriter.outcome == "csp_blocks"


def test_document_splice_error_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    def broken(nonce: str | None) -> bytes:
        raise RuntimeError("snippet factory bug")

    decision = make_decision(HTML, response={"Content-Encoding": "gzip"})
    with caplog.at_level(logging.ERROR, logger="proxy.rewrite.document"):
        sent, rewriter = rewrite(decision, cut(gzip_bytes(PAGE), "random", "error"), snippet_for=broken)

    assert decode_body(sent, "gzip") == PAGE
    assert rewriter.outcome == "error"
    assert [record.getMessage() for record in caplog.records] == [
        "request test: splicing failed; the document passes unchanged"
    ]


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        pytest.param("gzip", b"\x1f\x8b\x08\x00garbage" + PAGE[:200], id="gzip-bad-header"),
        pytest.param("br", b"\xff\xff\xff\xffnot brotli", id="br-garbage"),
        pytest.param("gzip", gzip_bytes(b"<!--" + b"comment " * 500)[:-8], id="gzip-truncated-before-output"),
    ],
)
def test_document_corrupt_passes_as_sent(encoding: str, body: bytes) -> None:
    decision = make_decision("text/html", response={"Content-Encoding": encoding})

    sent, rewriter = rewrite(decision, cut(body, "random", encoding), accept_encoding=encoding)

    assert sent == body
    assert rewriter.outcome == "corrupt_body"


def test_document_corrupt_after_output_ends_cleanly() -> None:
    # The first part decodes to the head and part of the body, so the snippet is placed before the damage.
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    good = compressor.compress(PAGE[:200]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    decision = make_decision(HTML, response={"Content-Encoding": "gzip"})
    rewriter = DocumentRewriter(decision, snippet(), accept_encoding="gzip", request_id="r1")

    first = rewriter.feed(good)
    rest = rewriter.feed(b"\x00\xff" * 50) + rewriter.feed(b"more") + rewriter.finish()

    decoded = zlib.decompress(first + rest, 16 + zlib.MAX_WBITS)
    assert INJECTED.startswith(decoded)
    assert len(decoded) > len(snippet())
    assert rewriter.outcome == "corrupt_body"


def test_document_rejects_skip_decision() -> None:
    decision = make_decision("application/json")

    with pytest.raises(ValueError, match="got skip 'not_html'"):
        DocumentRewriter(decision, snippet(), accept_encoding=None)
