"""The decision from the heads alone: which responses get the runtime, and the reason for each skip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from proxy.config.inject import InjectConfig
from proxy.rewrite import decide, should_strip_range, strip_range
from proxy.rewrite.decide import DecisionCache

from .helpers import NAVIGATION, RUNTIME

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.mark.parametrize(
    ("method", "request_headers", "status", "response_headers", "config", "reason"),
    [
        pytest.param("GET", NAVIGATION, 200, HTML, InjectConfig(), "inject", id="navigation"),
        pytest.param("POST", NAVIGATION, 200, HTML, InjectConfig(), "inject", id="form-post-result"),
        pytest.param("GET", {"Sec-Fetch-Dest": "iframe"}, 200, HTML, InjectConfig(), "inject", id="iframe"),
        pytest.param("GET", {"sec-fetch-dest": "FRAME"}, 200, HTML, InjectConfig(), "inject", id="frame-any-case"),
        pytest.param("GET", {}, 200, HTML, InjectConfig(), "inject", id="no-fetch-metadata"),
        pytest.param(
            "GET", NAVIGATION, 200, {"Content-Type": "application/xhtml+xml"}, InjectConfig(), "inject", id="xhtml"
        ),
        pytest.param("GET", NAVIGATION, 200, HTML, InjectConfig(enabled=False), "disabled", id="disabled"),
        pytest.param("HEAD", NAVIGATION, 200, HTML, InjectConfig(), "method_head", id="head-method"),
        pytest.param("GET", NAVIGATION, 204, HTML, InjectConfig(statuses=(200, 204)), "status", id="no-content"),
        pytest.param("GET", NAVIGATION, 304, HTML, InjectConfig(statuses=(200, 304)), "status", id="not-modified"),
        pytest.param("GET", NAVIGATION, 206, HTML, InjectConfig(statuses=(200, 206)), "status", id="partial"),
        pytest.param("GET", NAVIGATION, 404, HTML, InjectConfig(), "status", id="status-not-configured"),
        pytest.param("GET", NAVIGATION, 404, HTML, InjectConfig(statuses=(200, 404)), "inject", id="status-configured"),
        pytest.param("GET", NAVIGATION, 200, {"Content-Type": "application/json"}, InjectConfig(), "not_html", id="json"),
        pytest.param("GET", NAVIGATION, 200, {}, InjectConfig(), "not_html", id="no-content-type"),
        pytest.param("GET", NAVIGATION, 200, {"Content-Type": "text/plain"}, InjectConfig(), "not_html", id="text-plain"),
        pytest.param(
            "GET",
            NAVIGATION,
            200,
            {**HTML, "Content-Disposition": 'Attachment; filename="report.html"'},
            InjectConfig(),
            "attachment",
            id="download",
        ),
        pytest.param(
            "GET",
            NAVIGATION,
            200,
            {**HTML, "Content-Disposition": 'inline; filename="report.html"'},
            InjectConfig(),
            "inject",
            id="inline-disposition",
        ),
        pytest.param("GET", {"Sec-Fetch-Dest": "empty"}, 200, HTML, InjectConfig(), "not_navigation", id="fetch"),
        pytest.param("GET", {"Sec-Fetch-Dest": "embed"}, 200, HTML, InjectConfig(), "not_navigation", id="embed"),
        pytest.param(
            "GET", {"X-Requested-With": "XMLHttpRequest"}, 200, HTML, InjectConfig(), "xhr", id="jquery-ajax"
        ),
        pytest.param(
            "GET",
            {"Sec-Fetch-Dest": "document", "X-Requested-With": "XMLHttpRequest"},
            200,
            HTML,
            InjectConfig(),
            "inject",
            id="fetch-metadata-wins",
        ),
        pytest.param("GET", {"Range": "bytes=0-99"}, 200, HTML, InjectConfig(), "range", id="range-kept"),
        pytest.param(
            "GET", NAVIGATION, 200, {**HTML, "Content-Encoding": "zstd"}, InjectConfig(), "unknown_encoding", id="zstd"
        ),
        pytest.param(
            "GET", NAVIGATION, 200, {"Content-Type": "text/html; charset=utf-16"}, InjectConfig(), "utf16", id="utf16-header"
        ),
        pytest.param(
            "GET",
            NAVIGATION,
            200,
            {"Content-Type": "text/html; charset=iso-2022-kr"},
            InjectConfig(),
            "unsupported_charset",
            id="replacement-encoding",
        ),
        pytest.param(
            "GET",
            NAVIGATION,
            200,
            {**HTML, "Content-Security-Policy": "script-src 'none'"},
            InjectConfig(),
            "csp_blocks",
            id="csp-respected",
        ),
        pytest.param(
            "GET",
            NAVIGATION,
            200,
            {**HTML, "Content-Security-Policy": "script-src 'none'"},
            InjectConfig(csp="amend"),
            "inject",
            id="csp-amended",
        ),
        pytest.param(
            "GET",
            NAVIGATION,
            200,
            {**HTML, "Content-Security-Policy-Report-Only": "script-src 'none'"},
            InjectConfig(),
            "inject",
            id="csp-report-only",
        ),
    ],
)
def test_decide(
    method: str,
    request_headers: dict[str, str],
    status: int,
    response_headers: dict[str, str],
    config: InjectConfig,
    reason: str,
) -> None:
    decision = decide(method, request_headers, status, response_headers, config, runtime=RUNTIME)

    assert decision.reason == reason
    assert decision.inject is (reason == "inject")


def test_decide_details() -> None:
    response = CIMultiDict(
        [
            ("Content-Type", "application/xhtml+xml; charset=Shift_JIS"),
            ("Content-Encoding", "x-gzip"),
            ("Content-Security-Policy", "script-src 'nonce-q1'"),
        ]
    )
    decision = decide("GET", {}, 200, response, InjectConfig(), runtime=RUNTIME)

    assert decision.xhtml is True
    assert decision.sniff is True
    assert decision.codings == ("gzip",)
    assert decision.charset == "Shift_JIS"
    assert decision.csp is not None
    assert decision.csp.permit().nonce == "q1"


@pytest.mark.parametrize(
    ("method", "headers", "config", "expected"),
    [
        pytest.param("GET", {"Range": "bytes=0-", "Sec-Fetch-Dest": "document"}, InjectConfig(), True, id="navigation"),
        pytest.param("GET", {"Range": "bytes=0-", "Sec-Fetch-Dest": "video"}, InjectConfig(), False, id="media"),
        pytest.param("GET", {"Range": "bytes=0-"}, InjectConfig(), False, id="no-fetch-metadata"),
        pytest.param("GET", {"Sec-Fetch-Dest": "document"}, InjectConfig(), False, id="no-range"),
        pytest.param("HEAD", {"Range": "bytes=0-", "Sec-Fetch-Dest": "document"}, InjectConfig(), False, id="head"),
        pytest.param(
            "GET", {"Range": "bytes=0-", "Sec-Fetch-Dest": "document"}, InjectConfig(enabled=False), False, id="disabled"
        ),
    ],
)
def test_should_strip_range(method: str, headers: dict[str, str], config: InjectConfig, expected: bool) -> None:
    assert should_strip_range(method, headers, config) is expected


def test_strip_range() -> None:
    headers = CIMultiDict([("Range", "bytes=0-9"), ("If-Range", '"x"'), ("Accept", "a"), ("Accept", "b")])

    assert list(strip_range(headers).items()) == [("Accept", "a"), ("Accept", "b")]


REQUEST_FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["Sec-Fetch-Dest", "sec-fetch-dest", "X-Requested-With", "Range", "Accept"]),
        st.sampled_from(["document", "iframe", "empty", "XMLHttpRequest", "bytes=0-10", "text/html"]),
    ),
    max_size=4,
)
RESPONSE_FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["Content-Type", "Content-Disposition", "Content-Encoding", "Content-Security-Policy", "ETag"]),
        st.sampled_from([
            "text/html", "text/html; charset=utf-16", "application/xhtml+xml", "image/png", "attachment",
            "gzip", "zstd", "script-src 'none'", "default-src 'self'", '"a"',
        ]),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    request_fields=REQUEST_FIELDS,
    status=st.sampled_from([200, 206, 404]),
    response_fields=RESPONSE_FIELDS,
    csp=st.sampled_from(["respect", "amend"]),
)
def test_decision_cache_matches_decide(
    method: str, request_fields: list[tuple[str, str]], status: int, response_fields: list[tuple[str, str]], csp: str
) -> None:
    config = InjectConfig(csp=csp)  # type: ignore[arg-type]
    cache = DecisionCache(config, RUNTIME)
    request, response = CIMultiDict(request_fields), CIMultiDict(response_fields)
    expected = decide(method, request, status, response, config, runtime=RUNTIME)
    first = cache.decide(method, request, status, response)
    assert first == expected
    assert cache.decide(method, CIMultiDict(request_fields), status, CIMultiDict(response_fields)) is first


def test_decision_cache_plain_mappings() -> None:
    cache = DecisionCache(InjectConfig(), RUNTIME)
    assert cache.decide("GET", NAVIGATION, 200, HTML) == decide("GET", NAVIGATION, 200, HTML, InjectConfig(), runtime=RUNTIME)
