"""Content-Security-Policy parsing, source matching, nonce reuse and the opt-in amendment."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy.rewrite.csp import (
    Permit,
    amend_policy,
    evaluate,
    parse_policies,
    parse_policy,
    plan_csp,
    source_list_allows,
)

from .helpers import RUNTIME

SCRIPT = RUNTIME.script_url
CONNECT = RUNTIME.connect_url
STYLE = RUNTIME.style_url


@pytest.mark.parametrize(
    ("text", "directives", "segments"),
    [
        pytest.param(
            "default-src 'self'; script-src 'self' https://cdn.example",
            {"default-src": ("'self'",), "script-src": ("'self'", "https://cdn.example")},
            ("default-src 'self'", "script-src 'self' https://cdn.example"),
            id="two-directives",
        ),
        pytest.param(
            "script-src 'none'; script-src *",
            {"script-src": ("'none'",)},
            ("script-src 'none'", "script-src *"),
            id="repeated-name-ignored",
        ),
        pytest.param("Script-Src  'self'\t", {"script-src": ("'self'",)}, ("Script-Src  'self'",), id="name-case-folded"),
        pytest.param(";; default-src 'self' ;", {"default-src": ("'self'",)}, ("default-src 'self'",), id="empty-segments"),
        pytest.param("upgrade-insecure-requests", {"upgrade-insecure-requests": ()}, ("upgrade-insecure-requests",), id="no-value"),
        pytest.param("scr!pt-src x", {}, ("scr!pt-src x",), id="invalid-name-kept-as-text"),
    ],
)
def test_parse_policy(text: str, directives: dict[str, tuple[str, ...]], segments: tuple[str, ...]) -> None:
    policy = parse_policy(text)

    assert dict(policy.directives) == directives
    assert policy.segments == segments


def test_parse_policies_commas_and_fields() -> None:
    policies = parse_policies(["default-src 'self', script-src 'none'", "img-src *", " , "])

    assert [policy.serialize() for policy in policies] == ["default-src 'self'", "script-src 'none'", "img-src *"]


@pytest.mark.parametrize(
    ("tokens", "nonce", "parser_inserted", "expected"),
    [
        pytest.param(["'self'"], None, True, True, id="self"),
        pytest.param(["'SELF'"], None, True, True, id="self-upper-case"),
        pytest.param(["'none'"], None, True, False, id="none"),
        pytest.param([], None, True, False, id="empty-list"),
        pytest.param(["*"], None, True, True, id="star"),
        pytest.param(["https:"], None, True, True, id="scheme-https"),
        pytest.param(["http:"], None, True, True, id="scheme-http-upgrades"),
        pytest.param(["wss:"], None, True, False, id="scheme-other"),
        pytest.param(["erp.example.com"], None, True, True, id="host"),
        pytest.param(["ERP.Example.COM"], None, True, True, id="host-case-insensitive"),
        pytest.param(["*.example.com"], None, True, True, id="wildcard-host"),
        pytest.param(["example.com"], None, True, False, id="parent-host"),
        pytest.param(["*.erp.example.com"], None, True, False, id="wildcard-needs-subdomain"),
        pytest.param(["https://erp.example.com:443"], None, True, True, id="explicit-default-port"),
        pytest.param(["erp.example.com:8443"], None, True, False, id="other-port"),
        pytest.param(["erp.example.com:*"], None, True, True, id="any-port"),
        pytest.param(["http://erp.example.com"], None, True, True, id="http-source-upgrades"),
        pytest.param(["https://erp.example.com/__guidegate/"], None, True, True, id="path-prefix"),
        pytest.param(["https://erp.example.com/__guidegate"], None, True, False, id="path-exact-differs"),
        pytest.param([SCRIPT], None, True, True, id="path-exact-match"),
        pytest.param(["https://erp.example.com/__Guidegate/"], None, True, False, id="path-case-sensitive"),
        pytest.param(["https://erp.example.com/static/"], None, True, False, id="other-path"),
        pytest.param(["'nonce-abc'"], "abc", True, True, id="nonce-match"),
        pytest.param(["'nonce-abc'"], "abd", True, False, id="nonce-mismatch"),
        pytest.param(["'nonce-abc'"], None, True, False, id="nonce-missing"),
        pytest.param(["'self'", "'strict-dynamic'"], None, True, False, id="strict-dynamic-ignores-self"),
        pytest.param(["'self'", "'strict-dynamic'"], None, False, True, id="strict-dynamic-not-parser-inserted"),
        pytest.param(["'nonce-abc'", "'strict-dynamic'"], "abc", True, True, id="strict-dynamic-with-nonce"),
        pytest.param(["'unsafe-inline'"], None, True, False, id="unsafe-inline"),
        pytest.param(["'sha256-AAAA'"], None, True, False, id="hash"),
    ],
)
def test_source_list_allows(tokens: list[str], nonce: str | None, parser_inserted: bool, expected: bool) -> None:
    assert source_list_allows(tokens, SCRIPT, nonce=nonce, parser_inserted_script=parser_inserted) is expected


@pytest.mark.parametrize(
    ("headers", "metas", "expected"),
    [
        pytest.param([], [], Permit(True), id="no-policy"),
        pytest.param(["default-src 'self'"], [], Permit(True), id="self"),
        pytest.param(["script-src 'nonce-xyz' 'strict-dynamic'"], [], Permit(True, "xyz"), id="nonce-reused"),
        pytest.param(["script-src 'self' 'nonce-xyz'"], [], Permit(True, "xyz"), id="nonce-preferred"),
        pytest.param(["script-src 'strict-dynamic' 'sha256-AAAA'"], [], Permit(False, None, "script-src"), id="hash-only"),
        pytest.param(["default-src 'none'; script-src 'self'"], [], Permit(False, None, "default-src"), id="connect-falls-back"),
        pytest.param(["script-src 'self'; connect-src 'none'"], [], Permit(False, None, "connect-src"), id="connect-none"),
        pytest.param(["style-src 'none'"], [], Permit(False, None, "style-src"), id="style-none"),
        pytest.param(["script-src-elem 'none'; script-src 'self'"], [], Permit(False, None, "script-src-elem"), id="elem-first"),
        pytest.param(["sandbox allow-forms"], [], Permit(False, None, "sandbox"), id="sandbox-without-scripts"),
        pytest.param(["sandbox allow-scripts allow-same-origin"], [], Permit(True), id="sandbox-with-scripts"),
        pytest.param([], ["sandbox"], Permit(True), id="sandbox-in-meta-ignored"),
        pytest.param(["script-src 'self'"], ["script-src 'nonce-a'"], Permit(True, "a"), id="meta-nonce"),
        pytest.param(["script-src 'nonce-a'", "script-src 'nonce-b'"], [], Permit(False, None, "script-src"), id="two-nonces"),
        pytest.param(["script-src 'self', img-src 'none'"], [], Permit(True), id="comma-separated-policies"),
    ],
)
def test_evaluate(headers: list[str], metas: list[str], expected: Permit) -> None:
    permit = evaluate(parse_policies(headers), [parse_policy(meta) for meta in metas], RUNTIME)

    assert permit == expected


def test_evaluate_without_nonce_support() -> None:
    permit = evaluate(parse_policies(["script-src 'nonce-a'"]), [], RUNTIME, nonce_possible=False)

    assert permit == Permit(False, None, "script-src")


@pytest.mark.parametrize(
    ("text", "nonce", "expected"),
    [
        pytest.param("default-src 'self'", None, "default-src 'self'", id="already-allowed"),
        pytest.param("script-src 'none'", None, f"script-src {SCRIPT}", id="none-replaced"),
        pytest.param(
            "script-src https://cdn.example; object-src 'none'",
            None,
            f"script-src https://cdn.example {SCRIPT}; object-src 'none'",
            id="script-source-added",
        ),
        pytest.param(
            "default-src 'none'",
            None,
            f"default-src 'none'; script-src {SCRIPT}; connect-src {CONNECT}; style-src {STYLE}",
            id="default-none-gets-own-directives",
        ),
        pytest.param(
            "default-src https://static.example; img-src *",
            None,
            f"default-src https://static.example; img-src *; script-src https://static.example {SCRIPT}; "
            f"connect-src https://static.example {CONNECT}; style-src https://static.example {STYLE}",
            id="default-sources-copied",
        ),
        pytest.param(
            "script-src-elem 'self'; script-src 'none'",
            None,
            f"script-src-elem 'self'; script-src {SCRIPT}",
            id="both-script-directives-checked",
        ),
        pytest.param(
            "Script-Src  'unsafe-inline'   https://a.example",
            None,
            f"Script-Src 'unsafe-inline' https://a.example {SCRIPT}",
            id="written-name-kept",
        ),
        pytest.param(
            "script-src 'nonce-abc' 'strict-dynamic'",
            "abc",
            "script-src 'nonce-abc' 'strict-dynamic'",
            id="nonce-suffices",
        ),
        pytest.param("connect-src 'none'", None, f"connect-src {CONNECT}", id="connect"),
        pytest.param(
            "style-src 'self' 'unsafe-inline'; style-src-elem 'none'",
            None,
            f"style-src 'self' 'unsafe-inline'; style-src-elem {STYLE}",
            id="style-elem",
        ),
        pytest.param("sandbox; script-src 'none'", None, f"sandbox; script-src {SCRIPT}", id="sandbox-kept"),
    ],
)
def test_amend_policy(text: str, nonce: str | None, expected: str) -> None:
    assert amend_policy(parse_policy(text), RUNTIME, nonce).serialize() == expected


def test_plan_respect_keeps_headers() -> None:
    headers = CIMultiDict([("Content-Security-Policy", "script-src 'none'")])
    plan = plan_csp(headers, RUNTIME, "respect")

    assert plan.header_values is None
    assert plan.permit() == Permit(False, None, "script-src")


def test_plan_amend_each_field() -> None:
    headers = CIMultiDict(
        [
            ("Content-Security-Policy", "script-src 'none', img-src 'self'"),
            ("Content-Security-Policy", "connect-src 'self'"),
            ("Content-Security-Policy-Report-Only", "default-src 'none'"),
        ]
    )
    plan = plan_csp(headers, RUNTIME, "amend")

    assert plan.header_values == (f"script-src {SCRIPT}, img-src 'self'", "connect-src 'self'")
    assert plan.permit() == Permit(True)


def test_plan_amend_cannot_lift_strict_dynamic() -> None:
    headers = {"content-security-policy": "script-src 'strict-dynamic' 'sha256-AAAA'"}
    plan = plan_csp(headers, RUNTIME, "amend")

    assert plan.permit() == Permit(False, None, "script-src")


def test_plan_ignores_report_only() -> None:
    plan = plan_csp({"Content-Security-Policy-Report-Only": "default-src 'none'"}, RUNTIME, "amend")

    assert plan.policies == ()
    assert plan.header_values is None
