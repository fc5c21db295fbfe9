"""URL patterns: paths, globs, typed parameters, regexes, query conditions, methods and case."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.ruleset.compiled import CompiledPath, CompiledRequest
from proxy.ruleset.patterns import RequestPattern, _regex_prefix, parse_path_pattern, parse_query_condition

MATCHES = [
    pytest.param("/po/new", "/po/new", {}, id="exact"),
    pytest.param("/po/new", "/po/new/", None, id="exact-trailing-slash"),
    pytest.param("/po/new", "/po/New", None, id="exact-case"),
    pytest.param("/", "/", {}, id="root"),
    pytest.param("/reports/*", "/reports/sales", {}, id="star-segment"),
    pytest.param("/reports/*", "/reports/", {}, id="star-empty"),
    pytest.param("/reports/*", "/reports/a/b", None, id="star-one-segment-only"),
    pytest.param("/files/*.pdf", "/files/q1.pdf", {}, id="star-in-segment"),
    pytest.param("/files/*.pdf", "/files/q1.csv", None, id="star-in-segment-miss"),
    pytest.param("/docs/**", "/docs", {}, id="double-star-zero"),
    pytest.param("/docs/**", "/docs/a/b/c", {}, id="double-star-deep"),
    pytest.param("/docs/**", "/docsx", None, id="double-star-prefix-only"),
    pytest.param("/**/edit", "/edit", {}, id="double-star-leading-zero"),
    pytest.param("/**/edit", "/po/1/edit", {}, id="double-star-leading"),
    pytest.param("/**", "/anything/at/all", {}, id="every-page"),
    pytest.param("/po/{id}/edit", "/po/abc/edit", {"id": "abc"}, id="param-default-str"),
    pytest.param("/po/{id:int}/edit", "/po/42/edit", {"id": 42}, id="param-int"),
    pytest.param("/po/{id:int}/edit", "/po/abc/edit", None, id="param-int-miss"),
    pytest.param("/po/{id:int}", "/po/007", {"id": 7}, id="param-int-leading-zero"),
    pytest.param("/a/{slug:slug}", "/a/spring-sale_2", {"slug": "spring-sale_2"}, id="param-slug"),
    pytest.param("/a/{slug:slug}", "/a/spring sale", None, id="param-slug-miss"),
    pytest.param(
        "/n/{n:uuid}",
        "/n/123e4567-e89b-12d3-a456-426614174000",
        {"n": "123e4567-e89b-12d3-a456-426614174000"},
        id="param-uuid",
    ),
    pytest.param("/n/{n:uuid}", "/n/123e4567", None, id="param-uuid-miss"),
    pytest.param("/h/{h:hex}", "/h/00ff", {"h": "00ff"}, id="param-hex"),
    pytest.param("/d/{day:date}", "/d/2026-03-01", {"day": "2026-03-01"}, id="param-date"),
    pytest.param("/f/{rest:path}", "/f/a/b.txt", {"rest": "a/b.txt"}, id="param-path"),
    pytest.param("/f/{rest:path}", "/f/", None, id="param-path-empty"),
    pytest.param("/x/{a}-{b:int}", "/x/run-7", {"a": "run", "b": 7}, id="two-params-one-segment"),
    pytest.param("/po/{id}", "/po/", None, id="param-str-empty"),
    pytest.param("re:^/po/[0-9]+$", "/po/12", {}, id="regex"),
    pytest.param("re:/po/[0-9]+", "/po/12/edit", None, id="regex-full-match"),
    pytest.param("re:/po/(?P<id>[0-9]+)(/edit)?", "/po/12/edit", {"id": "12"}, id="regex-named-group"),
    pytest.param("/po.aspx", "/po.aspx", {}, id="dot-is-literal"),
    pytest.param("/po.aspx", "/poXaspx", None, id="dot-not-wildcard"),
    pytest.param("/a+b/(c)", "/a+b/(c)", {}, id="regex-characters-literal"),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCHES)
def test_path_match(pattern: str, path: str, expected: dict[str, Any] | None) -> None:
    compiled = CompiledPath(parse_path_pattern(pattern), case_sensitive=True)
    assert compiled.match(path) == expected


CASE_INSENSITIVE = [
    pytest.param("/Timesheet/Week.aspx", "/timesheet/WEEK.ASPX", {}, id="exact"),
    pytest.param("/Reports/*.pdf", "/reports/Q1.PDF", {}, id="glob"),
    pytest.param("/Po/{id:int}", "/PO/12", {"id": 12}, id="param"),
    pytest.param("re:^/po/[a-z]+$", "/PO/ABC", {}, id="regex"),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), CASE_INSENSITIVE)
def test_path_match_case_insensitive(pattern: str, path: str, expected: dict[str, Any]) -> None:
    compiled = CompiledPath(parse_path_pattern(pattern), case_sensitive=False)
    assert compiled.match(path) == expected


INVALID = [
    pytest.param("po/new", "expected a path that starts with '/'", id="relative"),
    pytest.param("/po?x=1", "expected a path without '?' or '#'; write query parameters under 'query:'", id="query"),
    pytest.param("/po new", "expected a path without spaces", id="space"),
    pytest.param("/a/b**", "'**' must be a whole segment, as in '/reports/**', not 'b**'", id="double-star-partial"),
    pytest.param("/a/{id", "unbalanced '{' in segment '{id'; expected a parameter such as '{id:int}'", id="open-brace"),
    pytest.param("/a/id}", "unbalanced '}' in segment 'id}'; expected a parameter such as '{id:int}'", id="close-brace"),
    pytest.param(
        "/a/{id:integer}",
        "unknown parameter type 'integer' in '{id:integer}'; expected one of: str, int, uuid, hex, slug, date, path "
        "(did you mean 'int'?)",
        id="unknown-type",
    ),
    pytest.param("/a/{1d}", "invalid parameter name '1d'; expected a name such as 'id' in '{id:int}'", id="bad-name"),
    pytest.param("/a/{id}/{id}", "parameter 'id' appears twice; expected each parameter name once", id="duplicate-param"),
    pytest.param(
        "re:/po/(",
        "invalid regular expression: missing ), unterminated subpattern at position 4; expected a Python regular expression",
        id="regex",
    ),
]


@pytest.mark.parametrize(("pattern", "message"), INVALID)
def test_path_invalid(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_path_pattern(pattern)
    assert str(raised.value).startswith(message)


def test_path_literal_prefix() -> None:
    assert parse_path_pattern("/po/{id}/edit").literal_prefix == ("po",)
    assert parse_path_pattern("/po/new").exact == "/po/new"
    assert parse_path_pattern("/po/*").exact is None
    assert parse_path_pattern("/**/edit").literal_prefix == ()
    assert parse_path_pattern("re:/po").literal_prefix == ()


QUERY = [
    pytest.param("lines", {"tab": "lines"}, True, id="equals"),
    pytest.param("lines", {"tab": "head"}, False, id="equals-miss"),
    pytest.param("lines", {}, False, id="equals-missing"),
    pytest.param("*", {"tab": ""}, True, id="present-empty"),
    pytest.param("*", {}, False, id="present-missing"),
    pytest.param(None, {}, True, id="absent"),
    pytest.param(None, {"tab": "x"}, False, id="absent-present"),
    pytest.param("re:l.*s", {"tab": "lines"}, True, id="regex"),
    pytest.param("re:l.*s", {"tab": "lines2"}, False, id="regex-full-match"),
    pytest.param(2, {"tab": "2"}, True, id="number"),
    pytest.param(True, {"tab": "true"}, True, id="boolean"),
]


@pytest.mark.parametrize(("condition", "query", "expected"), QUERY)
def test_query_condition(condition: Any, query: dict[str, str], expected: bool) -> None:
    pattern = RequestPattern(parse_path_pattern("/po"), query={"tab": parse_query_condition(condition)})
    compiled = CompiledRequest(pattern, case_sensitive=True)
    assert (compiled.match("GET", "/po", query) is not None) is expected


def test_query_case_insensitive_app() -> None:
    pattern = RequestPattern(parse_path_pattern("/po"), query={"Action": parse_query_condition("Save")})
    compiled = CompiledRequest(pattern, case_sensitive=False)
    assert compiled.match("POST", "/PO", {"action": "SAVE"}) == {}


METHODS = [
    pytest.param((), "DELETE", True, id="any-when-omitted"),
    pytest.param(("*",), "PATCH", True, id="star"),
    pytest.param(("POST",), "POST", True, id="listed"),
    pytest.param(("POST",), "GET", False, id="not-listed"),
    pytest.param(("GET", "POST"), "GET", True, id="several"),
]


@pytest.mark.parametrize(("methods", "method", "expected"), METHODS)
def test_request_methods(methods: tuple[str, ...], method: str, expected: bool) -> None:
    compiled = CompiledRequest(RequestPattern(parse_path_pattern("/po"), methods=methods), case_sensitive=True)
    assert (compiled.match(method, "/po", None) is not None) is expected


EXPLAIN = [
    pytest.param("/po/{id:int}/edit", (), {}, "GET", "/po/abc/edit", ("path /po/abc/edit: parameter id is not an int", True), id="param-type"),
    pytest.param("/po/{n:uuid}", (), {}, "GET", "/po/12", ("path /po/12: parameter n is not a uuid", True), id="param-uuid"),
    pytest.param("/po/{id:int}/edit", (), {}, "GET", "/invoices/1", ("path /invoices/1 does not match /po/{id:int}/edit", False), id="path"),
    pytest.param("/po/new", ("POST",), {}, "GET", "/po/new", ("method GET not in [POST]", True), id="method"),
    pytest.param("/po", (), {"tab": "lines"}, "GET", "/po", ("query parameter tab is missing; expected 'lines'", True), id="query-missing"),
    pytest.param("/po", (), {"tab": "lines"}, "GET", "/po?tab=head", ("query parameter tab is 'head'; expected 'lines'", True), id="query-value"),
    pytest.param("/po", (), {"debug": None}, "GET", "/po?debug=1", ("query parameter debug is present; expected it absent", True), id="query-absent"),
    pytest.param("/po", (), {"f": "re:csv|xlsx"}, "GET", "/po?f=pdf", ("query parameter f is 'pdf'; expected matching re:csv|xlsx", True), id="query-regex"),
    pytest.param("/po/new", ("POST",), {}, "POST", "/po/new", None, id="match"),
]


@pytest.mark.parametrize(("pattern", "methods", "query", "method", "url", "expected"), EXPLAIN)
def test_request_explain(
    pattern: str, methods: tuple[str, ...], query: dict[str, Any], method: str, url: str, expected: tuple[str, bool] | None
) -> None:
    conditions = {name: parse_query_condition(value) for name, value in query.items()}
    compiled = CompiledRequest(RequestPattern(parse_path_pattern(pattern), methods, conditions), case_sensitive=True)
    path, _, raw_query = url.partition("?")
    parsed = dict(pair.split("=") for pair in raw_query.split("&")) if raw_query else {}
    assert compiled.explain(method, path, parsed) == expected


REGEX_PREFIXES = [
    pytest.param("^/m5/x7/[0-9]+$", ("m5", "x7"), id="segments"),
    pytest.param("^/po/(?P<id>[0-9]+)", ("po",), id="group-after-slash"),
    pytest.param("/po/12", ("po",), id="plain-last-segment-open"),
    pytest.param("^/pos?/x", (), id="quantifier"),
    pytest.param("/a|/b", (), id="top-level-alternation"),
    pytest.param("^/invoices/(new|edit)", ("invoices",), id="nested-alternation"),
    pytest.param("^/a/[|]|/b", (), id="alternation-after-class"),
    pytest.param("(?i)/po/x", (), id="inline-flag"),
    pytest.param("po/x", (), id="no-leading-slash"),
]


@pytest.mark.parametrize(("regex", "expected"), REGEX_PREFIXES)
def test_regex_prefix(regex: str, expected: tuple[str, ...]) -> None:
    assert _regex_prefix(regex) == expected
