"""Header fields of an injected response: length, validators, encoding, Vary and CSP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from proxy.rewrite.headers import adjust_response_headers, mark_etag, unmark_if_none_match, vary_with


@pytest.mark.parametrize(
    ("etag", "expected"),
    [
        pytest.param('"abc"', 'W/"abc-gg"', id="strong"),
        pytest.param('W/"abc"', 'W/"abc-gg"', id="weak"),
        pytest.param('w/"abc"', 'W/"abc-gg"', id="weak-lower-case"),
        pytest.param('""', 'W/"-gg"', id="empty"),
        pytest.param("abc", 'W/"abc-gg"', id="unquoted-invalid"),
    ],
)
def test_mark_etag(etag: str, expected: str) -> None:
    assert mark_etag(etag) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param('W/"abc-gg"', ('W/"abc"', True), id="marked"),
        pytest.param('"abc"', ('"abc"', False), id="plain"),
        pytest.param('"a", W/"b-gg"', ('"a", W/"b"', True), id="list"),
        pytest.param('"a,b-gg"', ('"a,b"', True), id="comma-inside-tag"),
        pytest.param("*", ("*", False), id="star"),
    ],
)
def test_unmark_if_none_match(value: str, expected: tuple[str, bool]) -> None:
    assert unmark_if_none_match(value) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], "Accept-Encoding", id="absent"),
        pytest.param(["Cookie"], "Cookie, Accept-Encoding", id="appended"),
        pytest.param(["cookie, accept-encoding"], None, id="present-any-case"),
        pytest.param(["*"], None, id="star"),
        pytest.param(["Origin", "Cookie"], "Origin, Cookie, Accept-Encoding", id="several-fields"),
    ],
)
def test_vary_with(values: list[str], expected: str | None) -> None:
    assert vary_with(values, "Accept-Encoding") == expected


UPSTREAM = CIMultiDict(
    [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", "1234"),
        ("Content-Encoding", "gzip"),
        ("ETag", '"v1"'),
        ("Accept-Ranges", "bytes"),
        ("Cache-Control", "private, max-age=60"),
        ("Vary", "Cookie"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Security-Policy", "script-src 'none'"),
        ("Content-Digest", "sha-256=:x:"),
    ]
)


def test_adjust_negotiated_gzip() -> None:
    headers = adjust_response_headers(UPSTREAM, content_encoding="gzip", negotiated=True)

    assert list(headers.items()) == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("ETag", 'W/"v1-gg"'),
        ("Cache-Control", "private, max-age=60"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Security-Policy", "script-src 'none'"),
        ("Content-Encoding", "gzip"),
        ("Vary", "Cookie, Accept-Encoding"),
    ]


def test_adjust_identity_with_amended_csp() -> None:
    headers = adjust_response_headers(
        UPSTREAM, content_encoding="identity", negotiated=False, csp_values=["script-src https://x/", "img-src *"]
    )

    assert "Content-Encoding" not in headers
    assert headers.getall("Vary") == ["Cookie"]
    assert headers.getall("Content-Security-Policy") == ["script-src https://x/", "img-src *"]
    assert "Content-Length" not in headers
    assert "Accept-Ranges" not in headers
    assert "Content-Digest" not in headers



class FieldList(Mapping[str, str]):
    """Header fields in a plain list, not a CIMultiDict, so adjust_response_headers takes its general loop."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return next(value for key, value in self._fields if key.lower() == name.lower())

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._fields])

    def __len__(self) -> int:
        return len(self._fields)

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(self._fields)


FIELD_NAMES = ["Content-Type", "content-length", "ETag", "etag", "Accept-Ranges", "Vary", "Content-Encoding", "Digest", "X-App"]
FIELD_VALUES = ['"a1"', 'W/"b"', "gzip", "Accept", "x, y", "10"]


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(st.tuples(st.sampled_from(FIELD_NAMES), st.sampled_from(FIELD_VALUES)), max_size=8),
    coding=st.sampled_from(["identity", "gzip", "br"]),
    negotiated=st.booleans(),
)
def test_adjust_copy_matches_loop(fields: list[tuple[str, str]], coding: str, negotiated: bool) -> None:
    fast = adjust_response_headers(CIMultiDict(fields), content_encoding=coding, negotiated=negotiated)
    general = adjust_response_headers(FieldList(fields), content_encoding=coding, negotiated=negotiated)
    assert list(fast.items()) == list(general.items())
