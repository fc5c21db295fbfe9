"""Encoding detection in the browser's order, and the HTML prescan for <meta> charset declarations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.rewrite.charset import (
    DetectedEncoding,
    PrescanResult,
    detect_encoding,
    extract_meta_charset,
    header_charset,
    lookup_label,
    prescan,
)

from .prescan_reference import reference_prescan


@pytest.mark.parametrize(
    ("data", "content_type", "xml", "expected"),
    [
        pytest.param(b"\xef\xbb\xbf<html>", "text/html; charset=shift_jis", False, DetectedEncoding("UTF-8", "bom"), id="utf8-bom-beats-header"),
        pytest.param(b"\xff\xfe<\x00", None, False, DetectedEncoding("UTF-16LE", "bom"), id="utf16le-bom"),
        pytest.param(b"\xfe\xff\x00<", None, False, DetectedEncoding("UTF-16BE", "bom"), id="utf16be-bom"),
        pytest.param(b'<meta charset="utf-8">', "text/html; charset=Shift_JIS", False, DetectedEncoding("Shift_JIS", "header"), id="header-beats-meta"),
        pytest.param(b"<html>", 'text/html; charset="windows-1251"', False, DetectedEncoding("windows-1251", "header"), id="quoted-header-charset"),
        pytest.param(b'<meta charset="euc-jp">', "text/html; charset=nonsense", False, DetectedEncoding("EUC-JP", "meta"), id="unknown-header-label-ignored"),
        pytest.param(b"<meta charset=latin1>", "text/html", False, DetectedEncoding("windows-1252", "meta"), id="latin1-is-windows-1252"),
        pytest.param(b'<meta http-equiv="content-type" content="text/html; charset=gb2312">', None, False, DetectedEncoding("GBK", "meta"), id="http-equiv-gb2312"),
        pytest.param(b"<p>no declaration</p>", None, False, DetectedEncoding("windows-1252", "default"), id="html-default"),
        pytest.param(b'<?xml version="1.0" encoding="ISO-8859-1"?><html/>', None, True, DetectedEncoding("windows-1252", "xml_declaration"), id="xml-declaration"),
        pytest.param(b'<html><meta charset="shift_jis"/></html>', None, True, DetectedEncoding("UTF-8", "default"), id="xml-ignores-meta"),
    ],
)
def test_detect_encoding(data: bytes, content_type: str | None, xml: bool, expected: DetectedEncoding) -> None:
    assert detect_encoding(data, content_type, xml=xml) == expected


PAD = b"<!--" + b"x" * 950 + b"-->"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b'<meta charset="utf-8">', PrescanResult("UTF-8", 22), id="meta-charset"),
        pytest.param(b"<META CHARSET=UTF-8>", PrescanResult("UTF-8", 20), id="upper-case"),
        pytest.param(b"<meta/charset=koi8-r>", PrescanResult("KOI8-R", 21), id="slash-before-attribute"),
        pytest.param(b"<meta charset = ' sjis '>", PrescanResult("Shift_JIS", 25), id="spaces-around-value"),
        pytest.param(
            b'<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">', PrescanResult("EUC-JP", 68), id="http-equiv"
        ),
        pytest.param(
            b'<meta content="text/html; charset=EUC-JP" http-equiv="Content-Type">', PrescanResult("EUC-JP", 68), id="content-first"
        ),
        pytest.param(b'<meta content="text/html; charset=EUC-JP">', None, id="content-without-http-equiv"),
        pytest.param(b'<meta charset="utf-16">', PrescanResult("UTF-8", 23), id="utf16-becomes-utf8"),
        pytest.param(b'<meta charset="x-user-defined">', PrescanResult("windows-1252", 31), id="x-user-defined"),
        pytest.param(b'<meta charset="bogus"><meta charset="big5">', PrescanResult("Big5", 43), id="unknown-label-skipped"),
        pytest.param(b'<meta charset="big5" charset="utf-8">', PrescanResult("Big5", 37), id="first-attribute-wins"),
        pytest.param(b'<!-- <meta charset="big5"> --><meta charset=utf-8>', PrescanResult("UTF-8", 50), id="comment-skipped"),
        pytest.param(b'<!--><meta charset=utf-8>', PrescanResult("UTF-8", 25), id="shortest-comment"),
        pytest.param(b'<a title="<meta charset=big5>"><meta charset=utf-8>', PrescanResult("UTF-8", 51), id="attribute-value-skipped"),
        pytest.param(b"<script>'<meta charset=big5>'</script>", PrescanResult("Big5", 28), id="script-text-not-skipped"),
        pytest.param(b'<!x <meta charset=big5>><meta charset=utf-8>', PrescanResult("UTF-8", 44), id="bogus-comment-to-gt"),
        pytest.param(b'<meta charset="utf-8"', None, id="cut-off-meta"),
        pytest.param(b'<meta name=charset content="charset=utf-8">', None, id="charset-in-other-meta"),
        pytest.param(b"<metadata charset=utf-8>", None, id="metadata-element"),
    ],
)
def test_prescan(data: bytes, expected: PrescanResult | None) -> None:
    assert prescan(data) == expected


def test_prescan_meta_near_900() -> None:
    data = PAD + b'<meta charset="shift_jis">'

    assert prescan(data[:1024]) == PrescanResult("Shift_JIS", len(data))


def test_prescan_meta_past_1024() -> None:
    data = PAD + b"<!--" + b"y" * 100 + b'--><meta charset="shift_jis">'

    assert prescan(data[:1024]) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("text/html; charset=utf-8", "UTF-8", id="plain"),
        pytest.param("text/html;charset='koi8-r'", "KOI8-R", id="single-quoted"),
        pytest.param('text/html; CHARSET = "iso-8859-2"', "ISO-8859-2", id="double-quoted-spaces"),
        pytest.param("text/html; charset=\"utf-8", None, id="unterminated-quote"),
        pytest.param("text/html; charsetx=utf-8; charset=euc-kr", "EUC-KR", id="later-match"),
        pytest.param("text/html; charset=utf-8; other", "UTF-8", id="stops-at-semicolon"),
        pytest.param("text/html", None, id="none"),
    ],
)
def test_extract_meta_charset(content: str, expected: str | None) -> None:
    assert extract_meta_charset(content) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        pytest.param("text/html; charset=UTF-8", "UTF-8", id="upper-case"),
        pytest.param("text/html;charset=ms932", "Shift_JIS", id="alias"),
        pytest.param('text/html; charset="utf-8"', "UTF-8", id="quoted"),
        pytest.param("text/html; charset=utf-7", None, id="unknown-to-browsers"),
        pytest.param("text/html", None, id="absent"),
        pytest.param(None, None, id="no-header"),
    ],
)
def test_header_charset(content_type: str | None, expected: str | None) -> None:
    assert header_charset(content_type) == expected


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        pytest.param(" Shift_JIS ", "Shift_JIS", id="trimmed"),
        pytest.param("x-sjis", "Shift_JIS", id="sjis-alias"),
        pytest.param("iso-8859-1", "windows-1252", id="latin1-alias"),
        pytest.param("ascii", "windows-1252", id="ascii-alias"),
        pytest.param("unicode", "UTF-16LE", id="unicode-alias"),
        pytest.param("iso-2022-kr", "replacement", id="replacement"),
        pytest.param("utf-32", None, id="not-a-web-encoding"),
    ],
)
def test_lookup_label(label: str, expected: str | None) -> None:
    assert lookup_label(label) == expected


PRESCAN_PIECES = [
    b"<meta", b"<META", b" charset", b"=", b"'", b'"', b"utf-8", b"sjis", b"bogus", b" http-equiv=content-type",
    b' content="text/html; charset=euc-jp"', b" content=charset=koi8-r", b">", b"/", b" ", b"\t", b"<!--", b"-->",
    b"<a", b"</p", b"<?x", b"<!x", b"<", b"=x", b"==", b"<br/", b"a", b"<meta>", b"data", b"-", b"<!-", b"\n",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PRESCAN_PIECES), st.binary(max_size=6)), max_size=30).map(b"".join))
def test_prescan_matches_reference(data: bytes) -> None:
    assert prescan(data) == reference_prescan(data)
