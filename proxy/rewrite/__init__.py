"""HTML injection: decide from the heads, then splice the runtime's <script> tag into the streamed document.

Typical use for one response::

    decision = decide(method, upstream_request_headers, status, upstream_headers, app.inject, runtime=location)
    if decision.inject:
        rewriter = DocumentRewriter(decision, snippet_for_nonce, accept_encoding=client_accept_encoding,
                                    lookahead=app.inject.lookahead, request_id=request_id)
        headers = rewriter.headers(upstream_headers)
        ...  # send rewriter.feed(chunk) for each chunk, then rewriter.finish(); count rewriter.outcome
"""

from proxy.rewrite.charset import DetectedEncoding, detect_encoding, header_charset, lookup_label, prescan
from proxy.rewrite.codec import (
    CorruptBodyError,
    UnsupportedCodingError,
    choose_output_coding,
    make_decoder,
    make_encoder,
    parse_content_encoding,
    upstream_accept_encoding,
)
from proxy.rewrite.csp import CspPlan, Permit, Policy, amend_policy, evaluate, parse_policies, parse_policy, plan_csp
from proxy.rewrite.decide import Decision, decide, should_strip_range, strip_range
from proxy.rewrite.document import DocumentRewriter, NonceSnippet
from proxy.rewrite.headers import adjust_response_headers, mark_etag, unmark_if_none_match
from proxy.rewrite.snippet import RUNTIME_MARKER, RuntimeLocation, build_snippet, is_runtime_tag
from proxy.rewrite.splice import DEFAULT_LOOKAHEAD, SkipInjection, Splicer

__all__ = [
    "DEFAULT_LOOKAHEAD",
    "RUNTIME_MARKER",
    "CorruptBodyError",
    "CspPlan",
    "Decision",
    "DetectedEncoding",
    "DocumentRewriter",
    "NonceSnippet",
    "Permit",
    "Policy",
    "RuntimeLocation",
    "SkipInjection",
    "Splicer",
    "UnsupportedCodingError",
    "adjust_response_headers",
    "amend_policy",
    "build_snippet",
    "choose_output_coding",
    "decide",
    "detect_encoding",
    "evaluate",
    "header_charset",
    "is_runtime_tag",
    "lookup_label",
    "make_decoder",
    "make_encoder",
    "mark_etag",
    "parse_content_encoding",
    "parse_policies",
    "parse_policy",
    "plan_csp",
    "prescan",
    "should_strip_range",
    "strip_range",
    "unmark_if_none_match",
    "upstream_accept_encoding",
]
