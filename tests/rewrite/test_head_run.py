"""The splicer's one-step run over head tokens: the same bytes, outcome and placement as tokenizing them one by one."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.rewrite import Splicer
from proxy.rewrite.scanner import Scanner
from proxy.rewrite.splice import SkipInjection
from proxy.rewrite.tokens import HEAD_RUN

SNIPPET = b'<script src="/g/guidegate.js" data-guidegate-app="erp"></script>'

START = [b"<!DOCTYPE html><html><head>", b"<html><head><meta charset=utf-8>", b"<HTML><HEAD>", b"<title>x</title>", b""]
ITEMS = [
    b"\n  ",
    b"<title>T &amp; </head> </title>",
    b"<TITLE>t</TITLE >",
    b"<style>p > a { x: '</head>' }</style>",
    b"<script>var a = '</head>';</script>",
    b"<script>if (a < b) { c('<!--'); }</script>",
    b"<script><!-- <script></script> --></script>",
    b'<script src="/a.js"></script>',
    b'<script src="/g.js" data-guidegate-app="erp"></script>',
    b"<noscript><p>no</p></noscript>",
    b"<!-- </head> -->",
    b"<!---->",
    b'<meta name="x" content="a>b">',
    b"<meta http-equiv=Content-Security-Policy content=\"script-src 'none'\">",
    b"<meta http-equiv=content-security-policy content=\"script-src 'nonce-n1'\">",
    b'<link rel="stylesheet" href="/a.css">',
    b"<base href=/>",
    b"<template><div>x</div></template>",
    b"<template><meta http-equiv=Content-Security-Policy content=\"script-src 'none'\">",
    b"</template>",
    b"</head>",
    b"</HEAD>",
    b"<body>",
    b"text",
    b"</p>",
    b"<div>",
    b"<titl",
    b"<script>unfinished",
]
DOCUMENTS = st.builds(
    lambda start, items, tail: start + b"".join(items) + tail,
    st.sampled_from(START),
    st.lists(st.sampled_from(ITEMS), max_size=10),
    st.sampled_from([b"", b"<p>body</p>", b"</head><body>x"]),
)


def factory(policies: Sequence[str]) -> bytes:
    """Build the snippet as a page's policies allow: skip on 'none', a nonce when one is declared."""
    if any("'none'" in policy for policy in policies):
        raise SkipInjection("csp_blocks")
    nonces = [policy.split("'nonce-", 1)[1].split("'", 1)[0] for policy in policies if "'nonce-" in policy]
    if nonces:
        return SNIPPET.replace(b"<script ", b'<script nonce="' + nonces[0].encode() + b'" ')
    return SNIPPET


def splice(data: bytes, cuts: Sequence[int], *, one_step: bool) -> tuple[bytes, str | None, str | None]:
    splicer = Splicer(factory, encoding="UTF-8")
    if not one_step:
        # The scanner's own hook does nothing, so every token is read one by one.
        splicer._skip_data = Scanner._skip_data.__get__(splicer)  # type: ignore[method-assign]
    edges = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    out = [splicer.feed(data[start:end]) for start, end in zip(edges, edges[1:])]
    out.append(splicer.finish())
    return b"".join(out), splicer.outcome, splicer.placement


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=DOCUMENTS, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=5))
def test_head_run_matches_tokens(data: bytes, cuts: list[int]) -> None:
    assert splice(data, cuts, one_step=True) == splice(data, cuts, one_step=False)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        pytest.param(b"\n<title>a</title>\n<link rel=x>\n<style>p{}</style><script src=/a.js></script></head>", 76, id="ordinary-head"),
        pytest.param(b"<script>a('<!--')</script>", 0, id="script-with-comment-opener"),
        pytest.param(b"<title>a</head></title>x", 23, id="end-tag-inside-title"),
        pytest.param(b"<style>a", 0, id="unfinished-style"),
        pytest.param(b"<meta charset=utf-8", 0, id="unfinished-tag"),
        pytest.param(b"<!-- a --><META NAME=x><template>", 23, id="stops-at-template"),
    ],
)
def test_head_run_length(text: bytes, length: int) -> None:
    match = HEAD_RUN.match(text)
    assert match is not None
    assert match.end() == length
