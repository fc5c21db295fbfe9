"""Real-world legacy documents through the whole pipeline, each fed whole, in random chunks, byte by byte, gzip and br.

In every case the expected output is the input with the snippet at the "@@" mark. A case
without a mark expects the input unchanged and names the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree

import pytest

from .helpers import br_bytes, cut, decode_body, gzip_bytes, make_decision, rewrite, snippet

MARK = b"@@"
PAD_TO_900 = b"<!--" + b"p" * 830 + b"-->"


@dataclass(frozen=True)
class Document:
    expected: bytes
    content_type: str = "text/html"
    reason: str = "injected"
    placement: str | None = None
    sniff: bool = False
    nonce: str | None = None

    @property
    def body(self) -> bytes:
        return self.expected.replace(MARK, b"")


def doc(expected: bytes, placement: str | None = None, **options: object) -> Document:
    return Document(expected, placement=placement, **options)  # type: ignore[arg-type]


def skipped(body: bytes, reason: str, **options: object) -> Document:
    return Document(body, reason=reason, **options)  # type: ignore[arg-type]


XHTML_DECLARED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    b'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en"><head>@@<title>Orders</title></head>'
    b"<body><p>1 &lt; 2</p></body></html>"
)

CASES = [
    pytest.param(
        doc(b'<!DOCTYPE html>\n<html lang="en">\n<head>@@\n<title>Orders</title></head><body>x</body></html>', "head"),
        id="html5-doctype-head",
    ),
    pytest.param(
        doc(
            b'<!DOCTYPE html><html><head><meta charset="utf-8">@@<title>Orders</title>',
            "after_meta",
        ),
        id="meta-charset-first-in-head-goes-after-meta",
    ),
    pytest.param(
        doc(
            b'<!DOCTYPE html><html><head>@@<meta charset="utf-8"><title>Orders</title>',
            "head",
            content_type="text/html; charset=utf-8",
        ),
        id="header-charset-makes-meta-irrelevant",
    ),
    pytest.param(
        doc(b"<HTML><HEAD>@@<TITLE>PURCHASE ORDERS</TITLE></HEAD><BODY BGCOLOR=#FFFFFF>", "head"),
        id="upper-case-tags",
    ),
    pytest.param(
        doc(b'<Html><Head Profile="http://gmpg.org/xfn/11">@@<Title>x</Title>', "head"),
        id="mixed-case-head-with-attribute",
    ),
    pytest.param(
        doc(b"<html><head data-x=\"a>b\" id='c>d' class=e>@@<title>x</title>", "head"),
        id="head-attributes-with-quoted-gt",
    ),
    pytest.param(
        doc(b'<html><head\n   id="top"\n   lang=en\n>@@<title>x</title>', "head"),
        id="head-tag-over-several-lines",
    ),
    pytest.param(
        doc(b"<html><head title='say \"hi\">'>@@<title>x</title>", "head"),
        id="head-attribute-single-quotes-around-double",
    ),
    pytest.param(
        doc(b"<html><head profile=http://gmpg.org/xfn/11>@@<title>x</title>", "head"),
        id="head-unquoted-attribute-with-slashes",
    ),
    pytest.param(doc(b"<html><head/>@@<title>x</title>", "head"), id="head-written-self-closing-in-html"),
    pytest.param(doc(b"@@<title>Legacy</title><p>no html, head or body", "document_start"), id="no-html-head-body"),
    pytest.param(doc(b"<html>@@<body><p>no head</p></body></html>", "after_html"), id="html-without-head"),
    pytest.param(doc(b"@@<body bgcolor=white><p>body only</p>", "before_body"), id="body-only"),
    pytest.param(
        doc(
            b"<html><head>@@<title>Frames</title></head>"
            b'<frameset cols="20%,80%"><frame src="menu.asp"><frame src="main.asp"></frameset></html>',
            "head",
        ),
        id="frameset-with-head",
    ),
    pytest.param(
        doc(b'@@<frameset rows="*,*"><frame src="a.htm"><frame src="b.htm"></frameset>', "before_frameset"),
        id="frameset-without-html-or-head",
    ),
    pytest.param(doc(b"<html>@@<frameset cols=\"*,*\"><frame src=a></frameset>", "after_html"), id="html-frameset-no-head"),
    pytest.param(doc(b"\xef\xbb\xbf<!DOCTYPE html><html><head>@@<title>x</title>", "head"), id="utf8-bom-stays-first"),
    pytest.param(
        skipped("<html><head><title>x</title>".encode("utf-16-le").join([b"\xff\xfe", b""]), "utf16"),
        id="utf16le-bom-skipped",
    ),
    pytest.param(
        skipped(b"\xfe\xff" + "<html><head>".encode("utf-16-be"), "utf16"), id="utf16be-bom-skipped"
    ),
    pytest.param(skipped("<html><head><title>x</title>".encode("utf-16-le"), "utf16"), id="utf16-without-bom-skipped"),
    pytest.param(doc(b"<html><!-- <head> in a comment --><head>@@<title>x</title>", "head"), id="head-inside-comment"),
    pytest.param(
        doc(b"<html>@@<script>var h = '<head>'; if (a<b && c>d) {}</script><head><title>x</title>", "after_html"),
        id="head-inside-script-string",
    ),
    pytest.param(
        doc(b'<html>@@<meta name="x" content="<head>"><head><title>x</title>', "after_html"),
        id="head-inside-attribute-value",
    ),
    pytest.param(doc(b"<html>@@<header class=top>Menu</header>", "after_html"), id="header-element-is-not-head"),
    pytest.param(doc(b"<html>@@<headline>News</headline>", "after_html"), id="headline-element-is-not-head"),
    pytest.param(
        doc(
            b"<!DOCTYPE html>\n<!--[if lt IE 9]><html class=\"ie\"><![endif]-->\n"
            b"<!--[if gt IE 8]><!--><html><!--<![endif]-->\n<head>@@<title>x</title>",
            "head",
        ),
        id="conditional-comments-around-html",
    ),
    pytest.param(
        doc(b"<![if !IE]>@@<link rel=stylesheet href=a.css><![endif]><html><head>", "document_start"),
        id="downlevel-revealed-conditional-comment",
    ),
    pytest.param(
        doc(b"<html><head><title>x</title>" + PAD_TO_900 + b'<meta charset="windows-1252">@@<style>p{}</style>', "after_meta"),
        id="meta-charset-near-byte-900",
    ),
    pytest.param(
        doc(b"<html><head>@@<title>x</title>" + PAD_TO_900 + b"<!--" + b"q" * 200 + b'--><meta charset="utf-8">', "head"),
        id="meta-charset-past-1024-ignored",
    ),
    pytest.param(
        doc(
            b'<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=Shift_JIS">@@'
            b"<TITLE>\x95\x5c\x8e\xa6</TITLE></HEAD>",
            "after_meta",
        ),
        id="http-equiv-shift-jis-with-backslash-trail-bytes",
    ),
    pytest.param(
        doc(
            b"<html><head>@@<title>\x95\x5c\x83\x5c</title></head><body title=\"\x83\x5c\">",
            "head",
            content_type="text/html; charset=shift_jis",
        ),
        id="shift-jis-header-charset",
    ),
    pytest.param(
        doc(
            b'<html><head><meta http-equiv=content-type content="text/html;charset=EUC-JP">@@<title>\xc6\xfc\xcb\xdc</title>',
            "after_meta",
        ),
        id="euc-jp-meta-unquoted-http-equiv",
    ),
    pytest.param(
        doc(b"<html><head>@@<title>Caf\xe9 cr\xe8me</title>", "head", content_type="text/html; charset=windows-1252"),
        id="windows-1252-bytes",
    ),
    pytest.param(
        doc(
            b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<HTML>\n<HEAD>\n'
            b'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">@@\n<META NAME="GENERATOR" '
            b'CONTENT="Microsoft FrontPage 4.0">\n<TITLE>Intranet</TITLE>\n</HEAD>',
            "after_meta",
        ),
        id="frontpage-era-page",
    ),
    pytest.param(
        doc(b'<html><head>@@<!-- <meta charset="utf-8"> --><title>x</title>', "head"),
        id="meta-charset-inside-comment-ignored",
    ),
    pytest.param(
        doc(b'<html><head><meta charset="bogus"><meta charset="utf-8">@@<title>x</title>', "after_meta"),
        id="unknown-charset-label-then-valid",
    ),
    pytest.param(
        doc(b"<html><head><script>var m = '<meta charset=\"utf-8\">';</script>@@<title>x</title>", "after_meta"),
        id="meta-charset-inside-script-string",
    ),
    pytest.param(
        doc(b'<html><head><template><meta charset="utf-8"></template>@@<title>x</title>', "after_meta"),
        id="meta-charset-inside-template",
    ),
    pytest.param(
        doc(b'<html><head><noscript><meta charset="utf-8"></noscript>@@<title>x</title>', "after_meta"),
        id="meta-charset-inside-noscript",
    ),
    pytest.param(
        doc(b'<html><head><title>a <meta charset="utf-8"> b</title>@@<style>p{}</style>', "after_meta"),
        id="meta-charset-inside-title-rcdata",
    ),
    pytest.param(
        doc(
            b'<html><head><script><!-- document.write("<script></script><title>"); --></script>'
            b'<meta charset="utf-8">@@<title>Real</title>',
            "after_meta",
        ),
        id="script-escaped-states-hide-end-tag",
    ),
    pytest.param(
        doc(
            XHTML_DECLARED,
            "head",
            content_type="application/xhtml+xml",
        ),
        id="xhtml-with-xml-declaration",
    ),
    pytest.param(
        doc(b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head/>@@<body/></html>', "head",
            content_type="application/xhtml+xml"),
        id="xhtml-empty-head",
    ),
    pytest.param(
        doc(
            b'<html xmlns="http://www.w3.org/1999/xhtml"><![CDATA[<head>]]><head>@@<title>x</title></head></html>',
            "head",
            content_type="application/xhtml+xml",
        ),
        id="xhtml-cdata-before-head",
    ),
    pytest.param(
        doc(b'<html xmlns="http://www.w3.org/1999/xhtml">@@<body/></html>', "after_root", content_type="application/xhtml+xml"),
        id="xhtml-without-head",
    ),
    pytest.param(
        doc(b'<?xml version="1.0" encoding="utf-8"?><html><head>@@<title>x</title>', "head"),
        id="xml-declaration-in-text-html",
    ),
    pytest.param(
        doc(b'<?xml-stylesheet href="a.xsl" type="text/xsl"?><html><head>@@<title>x</title>', "head"),
        id="processing-instruction-before-html",
    ),
    pytest.param(doc(b"<html>@@<![CDATA[<head>]]><head>", "after_html"), id="cdata-in-html-is-bogus-comment"),
    pytest.param(doc(b"<html><head>@@<title>no doctype</title>", "head"), id="doctype-less"),
    pytest.param(
        doc(b"<!doctype html public \"-//W3C//DTD HTML 3.2 Final//EN\">@@Hello <b>world</b>", "document_start"),
        id="doctype-then-text",
    ),
    pytest.param(doc(b"@@<plaintext><head>everything is text", "document_start"), id="plaintext-swallows-rest"),
    pytest.param(doc(b"<html>@@<xmp><head></xmp><head>", "after_html"), id="head-inside-xmp"),
    pytest.param(doc(b"<html></><head>@@", "head"), id="empty-end-tag-ignored"),
    pytest.param(
        skipped(
            b'<html><head><script src="https://erp.example.com/__guidegate/runtime/1.0.0/guidegate.js" '
            b'defer="defer" data-guidegate-app="erp"></script><title>x</title>',
            "already_injected",
        ),
        id="already-injected-page",
    ),
    pytest.param(
        doc(b"<html><head>@@<!-- data-guidegate-app --><title>x</title>", "head"),
        id="runtime-marker-in-comment-is-not-runtime",
    ),
    pytest.param(skipped(b"<tr><td>1</td><td>2</td></tr>", "fragment", sniff=True), id="fragment-sniffed"),
    pytest.param(skipped(b"OK", "fragment", sniff=True), id="text-fragment-sniffed"),
    pytest.param(
        doc(b"<!DOCTYPE html><html><head>@@<title>x</title>", "head", sniff=True), id="document-sniffed"
    ),
    pytest.param(skipped(b"", "empty"), id="empty-body"),
    pytest.param(
        skipped(
            b"<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">"
            b'<meta charset="utf-8"><title>x</title>',
            "csp_blocks",
        ),
        id="meta-csp-before-point-blocks",
    ),
    pytest.param(
        skipped(
            b"<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\"><title>x</title></head>",
            "csp_blocks",
            content_type="text/html; charset=utf-8",
        ),
        id="meta-csp-after-point-blocks",
    ),
    pytest.param(
        doc(
            b"<html><head>@@<title>x</title><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'nonce-l8t3r'\">"
            b"</head><body>",
            "head",
            content_type="text/html; charset=utf-8",
            nonce="l8t3r",
        ),
        id="meta-csp-later-in-head-nonce-reused",
    ),
    pytest.param(
        doc(
            b"<html><head>@@<title>x</title></head><body><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">",
            "head",
            content_type="text/html; charset=utf-8",
        ),
        id="meta-csp-in-body-does-not-apply",
    ),
    pytest.param(
        doc(
            b"<html><head>@@<title>x</title><p>text<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">",
            "head",
            content_type="text/html; charset=utf-8",
        ),
        id="meta-csp-after-implied-head-end-does-not-apply",
    ),
    pytest.param(
        doc(
            b"<html><head>@@<title>x</title><template><div></div></template>"
            b"<meta http-equiv=\"Content-Security-Policy\" content=\"style-src 'self'\"></head>",
            "head",
            content_type="text/html; charset=utf-8",
        ),
        id="template-content-does-not-end-head",
    ),
    pytest.param(
        doc(
            b"<html><head><meta http-equiv=\"content-security-policy\" content=\"script-src 'nonce-r4nd0m'\">"
            b'<meta charset="utf-8">@@<title>x</title>',
            "after_meta",
            nonce="r4nd0m",
        ),
        id="meta-csp-nonce-reused",
    ),
    pytest.param(
        skipped(
            b"<!-- \x1b$B$3$s\x1b(B --><html><head><title>x</title>",
            "iso2022jp",
            content_type="text/html; charset=iso-2022-jp",
        ),
        id="iso-2022-jp-escape-before-point",
    ),
    pytest.param(
        doc(b"<html><head>@@<title>\x1b$B$3$s\x1b(B</title>", "head", content_type="text/html; charset=iso-2022-jp"),
        id="iso-2022-jp-escape-after-point",
    ),
    pytest.param(
        doc(b"<!DOCTYPE html>@@<!--" + b"c" * 70000 + b"--><html><head>", "document_start"),
        id="huge-comment-before-head-falls-back",
    ),
    pytest.param(
        doc(b"<html>@@<!--" + b"c" * 70000 + b"--><head>", "after_html"),
        id="huge-comment-after-html-falls-back",
    ),
    pytest.param(
        skipped(b"<html><head><script>var s = '<meta charset=\"utf-8\">';" + b" " * 70000 + b"</script>", "lookahead"),
        id="huge-head-script-past-lookahead",
    ),
    pytest.param(
        skipped(
            b'<?xml version="1.0"?><!--' + b"c" * 70000 + b'--><html xmlns="http://www.w3.org/1999/xhtml"><head>',
            "lookahead",
            content_type="application/xhtml+xml",
        ),
        id="xhtml-huge-prolog-gives-up",
    ),
]

WAYS = ["whole", "random", "bytes", "gzip", "br"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", CASES)
def test_document(case: Document, way: str, request: pytest.FixtureRequest) -> None:
    decision = make_decision(case.content_type, request={} if case.sniff else None)
    assert decision.inject
    body = case.body
    seed = request.node.callspec.id
    if way == "gzip":
        chunks = cut(gzip_bytes(body), "random", seed)
        decision = make_decision(case.content_type, request={} if case.sniff else None, response={"Content-Encoding": "gzip"})
    elif way == "br":
        chunks = cut(br_bytes(body), "random", seed)
        decision = make_decision(case.content_type, request={} if case.sniff else None, response={"Content-Encoding": "br"})
    else:
        chunks = cut(body, way, seed)

    sent, rewriter = rewrite(decision, chunks)

    expected = case.expected.replace(MARK, snippet(case.nonce, xhtml=decision.xhtml))
    assert decode_body(sent, rewriter.output_coding) == expected
    assert rewriter.outcome == case.reason
    assert rewriter.placement == case.placement


XHTML_CASES = [
    case
    for case in CASES
    if isinstance(document := case.values[0], Document)
    and document.content_type == "application/xhtml+xml"
    and MARK in document.expected
]


@pytest.mark.parametrize("case", XHTML_CASES)
def test_xhtml_stays_well_formed(case: Document) -> None:
    decision = make_decision(case.content_type)

    sent, rewriter = rewrite(decision, [case.body])

    root = ElementTree.fromstring(sent)
    scripts = [element for element in root.iter("{http://www.w3.org/1999/xhtml}script")]
    assert [script.get("data-guidegate-app") for script in scripts] == ["erp"]
