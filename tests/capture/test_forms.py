"""The streaming form field reader: urlencoded, multipart and JSON bodies, allowlisted values, limits, any chunking."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.capture.forms import (
    MAX_FIELDS,
    MAX_JSON_BYTES,
    MAX_NAME_BYTES,
    MAX_PART_HEADER_BYTES,
    MAX_VALUE_BYTES,
    FormSummary,
    form_reader,
)

URLENCODED = "application/x-www-form-urlencoded"
BOUNDARY = "----gg7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def read(content_type: str | None, chunks: list[bytes], allow: frozenset[str] = frozenset()) -> FormSummary:
    reader = form_reader(content_type, allow)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def multipart(parts: list[tuple[str, bytes]], boundary: str = BOUNDARY, *, preamble: bytes = b"") -> bytes:
    """Encode parts as a browser does; a part header is given whole, e.g. 'name="a"; filename="x.pdf"'."""
    body = bytearray(preamble)
    for disposition, value in parts:
        body += f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n".encode()
        if "filename" in disposition:
            body += b"Content-Type: application/pdf\r\n"
        body += b"\r\n" + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body)


def summary(kind: str, names: list[str], values: dict[str, str] | None = None, truncated: bool = False) -> FormSummary:
    return FormSummary(kind=kind, names=names, values=values or {}, truncated=truncated)


UPLOAD = multipart(
    [
        ('name="vendor"', "Acme GmbH".encode()),
        ('name="currency"', b"EUR"),
        ('name="quote"; filename="quote.pdf"', b"%PDF-1.4\r\n--not-the-boundary\r\n\x00\xff" * 40),
        ('name="note"', "Grüße\r\nzweite Zeile".encode()),
    ]
)
UPLOAD_SUMMARY = summary("multipart", ["vendor", "currency", "quote", "note"], {"currency": "EUR", "note": "Grüße\r\nzweite Zeile"})

URLENCODED_CASES = [
    pytest.param(
        b"vendor=Acme+GmbH&currency=EUR&amount=12%2C50",
        {"currency"},
        summary("urlencoded", ["vendor", "currency", "amount"], {"currency": "EUR"}),
        id="allowlisted-value",
    ),
    pytest.param(b"vendor=Acme&currency=EUR", set(), summary("urlencoded", ["vendor", "currency"]), id="no-allowlist"),
    pytest.param(
        b"line%5B0%5D.sku=A1&first+name=Ann&note=Gr%C3%BC%C3%9Fe",
        {"note"},
        summary("urlencoded", ["line[0].sku", "first name", "note"], {"note": "Grüße"}),
        id="encoded-names-and-values",
    ),
    pytest.param(
        b"flag&empty=&=orphan&&currency=USD&currency=EUR",
        {"flag", "empty", "currency"},
        summary("urlencoded", ["flag", "empty", "currency"], {"flag": "", "empty": "", "currency": "USD"}),
        id="bare-empty-repeated",
    ),
    pytest.param(b"", {"a"}, summary("urlencoded", []), id="empty-body"),
]


@pytest.mark.parametrize(("body", "allow", "expected"), URLENCODED_CASES)
def test_urlencoded(body: bytes, allow: set[str], expected: FormSummary) -> None:
    assert read(f"{URLENCODED}; charset=UTF-8", [body], frozenset(allow)) == expected


def test_multipart_with_file() -> None:
    assert read(MULTIPART, [UPLOAD], frozenset({"currency", "note"})) == UPLOAD_SUMMARY


def test_multipart_split_everywhere() -> None:
    allow = frozenset({"currency", "note"})
    for cut in range(len(UPLOAD) + 1):
        assert read(MULTIPART, [UPLOAD[:cut], UPLOAD[cut:]], allow) == UPLOAD_SUMMARY, f"split at byte {cut}"


def test_multipart_byte_by_byte() -> None:
    chunks = [UPLOAD[index : index + 1] for index in range(len(UPLOAD))]

    assert read(MULTIPART, chunks, frozenset({"currency", "note"})) == UPLOAD_SUMMARY


def test_multipart_file_value_never_kept() -> None:
    body = multipart([('name="doc"; filename="a.txt"', b"secret contents"), ('name="kind"', b"invoice")])

    assert read(MULTIPART, [body], frozenset({"doc", "kind"})) == summary("multipart", ["doc", "kind"], {"kind": "invoice"})


MULTIPART_CASES = [
    pytest.param(
        f'multipart/form-data; boundary="{BOUNDARY}"',
        multipart([('name="a"', b"1")]),
        summary("multipart", ["a"], {"a": "1"}),
        id="quoted-boundary",
    ),
    pytest.param(
        MULTIPART,
        multipart([('name="a"', b"1"), ("name=plain", b"2")], preamble=b"This is a preamble.\r\n"),
        summary("multipart", ["a", "plain"], {"a": "1"}),
        id="preamble-unquoted-name",
    ),
    pytest.param(
        MULTIPART,
        multipart([('name="say \\"hi\\""', b"x")]),
        summary("multipart", ['say \\"hi\\"']),
        id="escaped-quote-in-name",
    ),
    pytest.param(MULTIPART, multipart([("filename=\"x\"", b"no name")]), summary("multipart", []), id="part-without-name"),
    pytest.param("multipart/form-data", multipart([('name="a"', b"1")]), FormSummary(), id="no-boundary"),
]


@pytest.mark.parametrize(("content_type", "body", "expected"), MULTIPART_CASES)
def test_multipart_variants(content_type: str, body: bytes, expected: FormSummary) -> None:
    assert read(content_type, [body], frozenset({"a"})) == expected


JSON_CASES = [
    pytest.param(
        {"vendor": "Acme", "currency": "EUR", "amount": 12.5, "urgent": True, "lines": [{"sku": "A1"}], "memo": None},
        summary(
            "json",
            ["vendor", "currency", "amount", "urgent", "lines", "memo"],
            {"currency": "EUR", "amount": "12.5", "urgent": "true"},
        ),
        id="flat",
    ),
    pytest.param(
        {"order": {"vendor": {"id": 7, "name": "Acme"}, "currency": "EUR"}},
        summary("json", ["order", "order.vendor", "order.vendor.id", "order.vendor.name", "order.currency"], {"order.currency": "EUR"}),
        id="nested",
    ),
    pytest.param({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}, summary("json", ["a", "a.b", "a.b.c", "a.b.c.d"]), id="depth-limit"),
    pytest.param([{"vendor": "Acme"}], summary("json", []), id="top-level-array"),
]


@pytest.mark.parametrize(("document", "expected"), JSON_CASES)
def test_json(document: object, expected: FormSummary) -> None:
    body = json.dumps(document).encode()
    allow = frozenset({"currency", "amount", "urgent", "order.currency"})

    assert read("application/json; charset=utf-8", [body[:7], body[7:]], allow) == expected


def test_json_invalid() -> None:
    assert read("application/vnd.api+json", [b'{"vendor": '], frozenset()) == summary("json", [])


def test_other_types_yield_nothing() -> None:
    assert read("text/plain", [b"vendor=Acme"], frozenset({"vendor"})) == FormSummary()
    assert read(None, [b"vendor=Acme"], frozenset({"vendor"})) == FormSummary()


def test_too_many_fields() -> None:
    body = "&".join(f"f{index}=v" for index in range(MAX_FIELDS + 5)).encode()

    result = read(URLENCODED, [body])

    assert result.names == [f"f{index}" for index in range(MAX_FIELDS)]
    assert result.truncated is True


def test_long_name_cut() -> None:
    name = "n" * (MAX_NAME_BYTES + 40)

    assert read(URLENCODED, [f"{name}=1".encode()]).names == [name[:MAX_NAME_BYTES]]


LONG_VALUE_CASES = [
    pytest.param("x" * 300, "x" * MAX_VALUE_BYTES, id="ascii-fits-buffer"),
    pytest.param("y" * 5000, "y" * MAX_VALUE_BYTES, id="ascii-overflows-buffer"),
    pytest.param("é" * 200, "é" * (MAX_VALUE_BYTES // 2), id="two-byte-characters"),
    pytest.param("a" + "€" * 100, "a" + "€" * 85, id="cut-inside-character"),
]


@pytest.mark.parametrize(("value", "kept"), LONG_VALUE_CASES)
def test_long_value_cut_urlencoded(value: str, kept: str) -> None:
    body = f"ref={quote_plus(value)}&next=1".encode()

    result = read(URLENCODED, [body], frozenset({"ref"}))

    assert result == summary("urlencoded", ["ref", "next"], {"ref": kept})
    assert len(kept.encode()) <= MAX_VALUE_BYTES


@pytest.mark.parametrize(("value", "kept"), LONG_VALUE_CASES)
def test_long_value_cut_multipart(value: str, kept: str) -> None:
    body = multipart([('name="ref"', value.encode()), ('name="next"', b"1")])

    assert read(MULTIPART, [body], frozenset({"ref"})) == summary("multipart", ["ref", "next"], {"ref": kept})


@pytest.mark.parametrize(("value", "kept"), LONG_VALUE_CASES)
def test_long_value_cut_json(value: str, kept: str) -> None:
    body = json.dumps({"ref": value, "next": 1}).encode()

    assert read("application/json", [body], frozenset({"ref"})) == summary("json", ["ref", "next"], {"ref": kept})


def test_json_too_large() -> None:
    body = json.dumps({"vendor": "Acme", "blob": "z" * MAX_JSON_BYTES}).encode()

    assert read("application/json", [body], frozenset({"vendor"})) == summary("json", [], truncated=True)


def test_multipart_header_too_large() -> None:
    padding = "x" * (MAX_PART_HEADER_BYTES + 10)
    body = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"b\"\r\nX-Pad: {padding}\r\n\r\n2\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()
    expected = summary("multipart", ["a"], truncated=True)

    assert read(MULTIPART, [body]) == expected
    assert read(MULTIPART, [body[index : index + 1000] for index in range(0, len(body), 1000)]) == expected


@pytest.mark.parametrize("excess", [pytest.param(-1, id="below"), pytest.param(0, id="at"), pytest.param(1, id="above")])
def test_multipart_header_limit_any_split(excess: int) -> None:
    start = 'Content-Disposition: form-data; name="b"\r\nX-Pad: '
    header = start + "x" * (MAX_PART_HEADER_BYTES + excess - len(start))
    body = f"--{BOUNDARY}\r\n{header}\r\n\r\n2\r\n--{BOUNDARY}--\r\n".encode()
    header_start = len(BOUNDARY) + 4
    expected = summary("multipart", [], truncated=True) if excess > 0 else summary("multipart", ["b"])

    for cut in range(header_start + MAX_PART_HEADER_BYTES - 4, header_start + MAX_PART_HEADER_BYTES + 6):
        assert read(MULTIPART, [body[:cut], body[cut:]]) == expected, f"split at byte {cut}"


# Field names and values a browser could send: any text without the characters that would need a
# multipart name escape. The readers must return the same summary whatever the chunking.
NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), min_size=1, max_size=12)
VALUES = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
FIELDS = st.lists(st.tuples(NAMES, VALUES), max_size=8)


def cuts(body: bytes, positions: list[int]) -> list[bytes]:
    points = sorted({position % (len(body) + 1) for position in positions})
    edges = [0, *points, len(body)]
    return [body[start:end] for start, end in zip(edges, edges[1:])]


@settings(max_examples=150, deadline=None)
@given(fields=FIELDS, positions=st.lists(st.integers(min_value=0), max_size=12), allow_count=st.integers(0, 8))
def test_chunking_never_changes_result(fields: list[tuple[str, str]], positions: list[int], allow_count: int) -> None:
    allow = frozenset(name for name, _ in fields[:allow_count])
    bodies = {
        URLENCODED: "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in fields).encode(),
        MULTIPART: multipart([(f'name="{name}"', value.encode()) for name, value in fields]),
        "application/json": json.dumps(dict(fields)).encode(),
    }
    for content_type, body in bodies.items():
        whole = read(content_type, [body], allow)
        assert read(content_type, cuts(body, positions), allow) == whole, content_type
        if content_type != "application/json":
            first_values = {name: value for name, value in reversed(fields)}
            assert whole.names == list(dict.fromkeys(name for name, _ in fields))
            assert whole.values == {name: first_values[name] for name in whole.names if name in allow}
