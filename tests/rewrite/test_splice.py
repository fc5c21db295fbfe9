"""The streaming splicer: byte-exact output for any input and chunking, early release, bounded memory."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.rewrite import SkipInjection, Splicer

SNIPPET = b'<script src="/p/runtime.js" data-guidegate-app="property"></script>'

PIECES = [
    b"<html>", b"<HTML lang=en>", b"<head>", b"<HEAD>", b"</head>", b"<head/>", b"<header>", b"<body>", b"<frameset>",
    b"<!DOCTYPE html>", b"<!doctype", b"<!--", b"-->", b"--!>", b"<!-->", b"<!", b"<?xml version='1.0'?>", b"?>",
    b"<![CDATA[", b"]]>", b"<script>", b"</script>", b"<script", b"<!--<script>", b"</SCRIPT >", b"<style>",
    b"</style>", b"<title>", b"</title>", b"<textarea>", b"<template>", b"</template>", b"<noscript>", b"<plaintext>",
    b'<meta charset="utf-8">', b"<meta charset=shift_jis>", b'<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">',
    b"<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">",
    b'<script data-guidegate-app="erp"></script>', b'"', b"'", b"=", b">", b"<", b"/", b" ", b"\n", b"a", b"\xef\xbb\xbf",
    b"\xff\xfe", b"\x00", b"\x1b$B", b"\x95\x5c", b"</", b"</>", b"<p>", b"text", b"x" * 300,
]

DOCUMENTS = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=12)), max_size=40).map(b"".join)


def run(data: bytes, cuts: Sequence[int], **options: object) -> tuple[bytes, Splicer]:
    splicer = Splicer(SNIPPET, **options)  # type: ignore[arg-type]
    edges = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    out = [splicer.feed(data[start:end]) for start, end in zip(edges, edges[1:])]
    out.append(splicer.finish())
    return b"".join(out), splicer


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=DOCUMENTS,
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    xml=st.booleans(),
    sniff=st.booleans(),
    encoding=st.sampled_from([None, "UTF-8", "ISO-2022-JP"]),
    lookahead=st.sampled_from([1024, 65536]),
)
def test_splice_property(
    data: bytes, cuts: list[int], xml: bool, sniff: bool, encoding: str | None, lookahead: int
) -> None:
    options = {"xml": xml, "sniff": sniff, "encoding": encoding, "lookahead": lookahead}
    chunked, splicer = run(data, cuts, **options)
    whole, whole_splicer = run(data, [], **options)

    assert chunked.count(SNIPPET) <= 1
    assert chunked.replace(SNIPPET, b"", 1) == data
    assert chunked == whole
    assert splicer.outcome == whole_splicer.outcome
    assert (SNIPPET in chunked) == (splicer.outcome == "injected")


def test_splice_releases_bytes_before_point() -> None:
    splicer = Splicer(SNIPPET, encoding="UTF-8")

    first = splicer.feed(b"<!DOCTYPE html><html><head>")
    second = splicer.feed(b"<title>x</title>")
    third = splicer.feed(b"</head><body>")

    assert first == b"<!DOCTYPE html><html><head>"
    # The rest of the head is held: a <meta> policy in it would apply to the runtime.
    assert second == b""
    assert third == SNIPPET + b"<title>x</title></head><body>"


@pytest.mark.parametrize(
    ("rest", "released"),
    [
        pytest.param(b"</head>", True, id="end-tag"),
        pytest.param(b"</HEAD >", True, id="end-tag-upper-case"),
        pytest.param(b"<body>", True, id="body-start-tag"),
        pytest.param(b"<div>", True, id="other-start-tag"),
        pytest.param(b"text", True, id="text"),
        pytest.param(b"</body>", True, id="body-end-tag"),
        pytest.param(b"<link rel=x><style>p{}</style><script>x</script><noscript><p></noscript>", False, id="head-content"),
        pytest.param(b"\n  <!-- c -->", False, id="whitespace-and-comment"),
        pytest.param(b"<template><div>x</div></template>", False, id="template-content"),
        pytest.param(b"</p>", False, id="ignored-end-tag"),
    ],
)
def test_splice_head_end(rest: bytes, released: bool) -> None:
    splicer = Splicer(SNIPPET, encoding="UTF-8")
    head = b"<html><head><title>x</title>"

    out = splicer.feed(head + rest)

    assert out == (head[:12] + SNIPPET + head[12:] + rest if released else head[:12])


def test_splice_holds_prolog_only_while_incomplete() -> None:
    splicer = Splicer(SNIPPET, encoding="UTF-8")

    assert splicer.feed(b"<!DOCTYPE html><!-- a") == b"<!DOCTYPE html>"
    assert splicer.feed(b" --><ht") == b"<!-- a -->"


def test_splice_waits_for_prescan_window() -> None:
    splicer = Splicer(SNIPPET)

    first = splicer.feed(b"<html><head><title>x</title></head>")
    rest = splicer.feed(b"<!--" + b"p" * 1000 + b"-->")

    assert first == b"<html><head>"
    assert rest == SNIPPET + b"<title>x</title></head><!--" + b"p" * 1000 + b"-->"


def test_splice_passes_through_after_decision() -> None:
    splicer = Splicer(SNIPPET, encoding="UTF-8")
    splicer.feed(b"<html><head><title></title></head>")
    chunk = b"<head>" * 100

    assert splicer.feed(chunk) is chunk


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(b"<!--" + b"c" * 300_000, id="endless-comment"),
        pytest.param(b"<html><head><script>var s='<meta charset=\"utf-8\">';" + b" " * 300_000, id="endless-script"),
        pytest.param(b"<html" + b" a=b" * 100_000, id="endless-tag"),
    ],
)
def test_splice_memory_bounded(prefix: bytes) -> None:
    lookahead = 4096
    chunk_size = 1000
    splicer = Splicer(SNIPPET, lookahead=lookahead)
    fed = 0
    sent = 0

    for start in range(0, len(prefix), chunk_size):
        chunk = prefix[start : start + chunk_size]
        fed += len(chunk)
        sent += len(splicer.feed(chunk))
        assert fed - sent <= lookahead + chunk_size

    assert splicer.outcome is not None


def test_splice_factory_gets_meta_policies() -> None:
    seen: list[list[str]] = []

    def factory(policies: Sequence[str]) -> bytes:
        seen.append(list(policies))
        return SNIPPET

    splicer = Splicer(factory)
    body = (
        b"<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self' &amp; more\">"
        b"<meta charset=utf-8><meta http-equiv=Content-Security-Policy content=\"img-src 'none'\"><title>x</title>"
        b"<template><meta http-equiv=Content-Security-Policy content=\"font-src 'none'\"></template>"
        b"</head><body><meta http-equiv=Content-Security-Policy content=\"media-src 'none'\">"
    )
    splicer.feed(body)
    splicer.finish()

    # Every policy of the head, before and after the point; none in a template or in the body.
    assert seen == [["default-src 'self' & more", "img-src 'none'"]]


def test_splice_factory_skip() -> None:
    def factory(policies: Sequence[str]) -> bytes:
        raise SkipInjection("csp_blocks")

    splicer = Splicer(factory, encoding="UTF-8")
    out = splicer.feed(b"<html><head><title>x") + splicer.finish()

    assert out == b"<html><head><title>x"
    assert splicer.outcome == "csp_blocks"


def test_splice_charset_conflict() -> None:
    # The script never ends, so no place after the <meta> exists; inserting after <head> would
    # push the <meta> past byte 1024, where the browser's prescan no longer finds it.
    body = b"<html><head><script>" + b"/" * 980 + b'<meta charset="utf-8">'
    splicer = Splicer(SNIPPET)
    out = splicer.feed(body) + splicer.finish()

    assert out == body
    assert splicer.outcome == "charset_conflict"


def test_splice_short_unclosed_script_keeps_charset() -> None:
    body = b'<html><head><script><meta charset="utf-8">'
    splicer = Splicer(SNIPPET)
    out = splicer.feed(body) + splicer.finish()

    assert out == b"<html><head>" + SNIPPET + b'<script><meta charset="utf-8">'
    assert splicer.outcome == "injected"


def test_splice_abandon_returns_held_bytes() -> None:
    splicer = Splicer(SNIPPET)
    held = splicer.feed(b"<html><head><title>")

    assert held + splicer.abandon() == b"<html><head><title>"
    assert splicer.outcome == "error"
