"""Whether a response gets the runtime, decided from the request and response heads alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from multidict import CIMultiDict

from proxy.config.inject import InjectConfig
from proxy.rewrite.charset import UTF16_ENCODINGS, header_charset
from proxy.rewrite.codec import UnsupportedCodingError, parse_content_encoding
from proxy.rewrite.csp import CSP_HEADER, CspPlan, plan_csp
from proxy.rewrite.headers import header_value, header_values
from proxy.rewrite.snippet import RuntimeLocation

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
NAVIGATION_DESTINATIONS = frozenset({"document", "iframe", "frame"})
"""Sec-Fetch-Dest values of a navigation, the only requests whose documents get the runtime."""

NEVER_STATUSES = frozenset({204, 206, 304})
"""Statuses without a whole body to splice into, skipped whatever `statuses` the configuration lists."""


@dataclass(frozen=True)
class Decision:
    """The verdict on one response and what the heads revealed about its body.

    `reason` is "inject" when `inject` is True, else a short metric label for the skip.
    `sniff` makes the splicer check that the body starts like a whole document, because the
    request did not state what it fetches. `codings` are the content codings to undo, `charset`
    the header's encoding (canonical name) and `csp` what the page's policy allows.
    """

    inject: bool
    reason: str
    xhtml: bool = False
    sniff: bool = False
    codings: tuple[str, ...] = ()
    charset: str | None = None
    csp: CspPlan | None = None


def media_type(content_type: str | None) -> str:
    """Return the lower-cased type/subtype of a Content-Type value, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


_SKIP_REASONS = (
    "disabled", "method_head", "status", "not_html", "attachment", "not_navigation",
    "xhr", "range", "unknown_encoding", "utf16", "unsupported_charset", "csp_blocks",
)
_SKIPS = {reason: Decision(False, reason) for reason in _SKIP_REASONS}
"""One shared verdict per skip reason: decisions are immutable, and most responses are skipped."""


def decide(
    method: str,
    request_headers: Mapping[str, str],
    status: int,
    response_headers: Mapping[str, str],
    config: InjectConfig,
    *,
    runtime: RuntimeLocation,
) -> Decision:
    """Decide from the heads whether the response body gets the runtime.

    `request_headers` are the headers as sent upstream (after `strip_range`, when it applied).
    The checks run from the cheapest to the dearest and the first that fails names the reason:
    disabled, method_head, status, not_html, attachment, not_navigation, xhr, range,
    unknown_encoding, utf16, unsupported_charset, csp_blocks.
    """
    if not config.enabled:
        return _SKIPS["disabled"]
    if method.upper() == "HEAD":
        return _SKIPS["method_head"]
    if status in NEVER_STATUSES or status not in config.statuses:
        return _SKIPS["status"]
    content_types = header_values(response_headers, "Content-Type")
    content_type = content_types[-1] if content_types else None
    essence = media_type(content_type)
    if essence not in HTML_TYPES:
        return _SKIPS["not_html"]
    disposition = header_value(response_headers, "Content-Disposition") or ""
    if disposition.split(";", 1)[0].strip().lower() == "attachment":
        return _SKIPS["attachment"]

    destination = header_value(request_headers, "Sec-Fetch-Dest")
    sniff = destination is None
    if destination is not None and destination.strip().lower() not in NAVIGATION_DESTINATIONS:
        return _SKIPS["not_navigation"]
    if sniff and (header_value(request_headers, "X-Requested-With") or "").strip().lower() == "xmlhttprequest":
        return _SKIPS["xhr"]
    if header_value(request_headers, "Range") is not None:
        return _SKIPS["range"]

    try:
        codings = parse_content_encoding(header_value(response_headers, "Content-Encoding"))
    except UnsupportedCodingError:
        return _SKIPS["unknown_encoding"]
    charset = header_charset(content_type)
    if charset in UTF16_ENCODINGS:
        return _SKIPS["utf16"]
    if charset == "replacement":
        return _SKIPS["unsupported_charset"]

    csp = plan_csp(response_headers, runtime, config.csp)
    if not csp.permit().allowed:
        return _SKIPS["csp_blocks"]
    return Decision(True, "inject", essence == "application/xhtml+xml", sniff, codings, charset, csp)


_DECISIONS_KEPT = 512
"""Distinct response heads whose decision is remembered; past this many the memory starts over."""


class DecisionCache:
    """A cache of `decide` verdicts for one app's configuration and runtime location.

    An app sends the same few heads over and over (text/html with one charset, no CSP), and the
    decision is a pure function of the header values in the key, so it is looked up rather than
    worked out again. Heads that are not CIMultiDicts are decided afresh.
    """

    def __init__(self, config: InjectConfig, runtime: RuntimeLocation) -> None:
        self.config = config
        self.runtime = runtime
        self._known: dict[tuple[object, ...], Decision] = {}

    def decide(
        self, method: str, request_headers: Mapping[str, str], status: int, response_headers: Mapping[str, str]
    ) -> Decision:
        """Return what `decide` returns for these heads with this cache's configuration and runtime."""
        if not isinstance(request_headers, CIMultiDict) or not isinstance(response_headers, CIMultiDict):
            return decide(method, request_headers, status, response_headers, self.config, runtime=self.runtime)
        get_request = request_headers.getall
        get_response = response_headers.getall
        key = (
            method,
            status,
            tuple(get_response("Content-Type", ())),
            tuple(get_response("Content-Disposition", ())),
            tuple(get_response("Content-Encoding", ())),
            tuple(get_response(CSP_HEADER, ())),
            tuple(get_request("Sec-Fetch-Dest", ())),
            tuple(get_request("X-Requested-With", ())),
            "Range" in request_headers,
        )
        decision = self._known.get(key)
        if decision is None:
            decision = decide(method, request_headers, status, response_headers, self.config, runtime=self.runtime)
            if len(self._known) >= _DECISIONS_KEPT:
                self._known.clear()
            self._known[key] = decision
        return decision


def should_strip_range(method: str, request_headers: Mapping[str, str], config: InjectConfig) -> bool:
    """Tell whether a request is a navigation with a Range header, which is sent upstream without it.

    The document can then get the runtime and the client receives a full 200 response, which
    HTTP allows as the response to any Range request.
    """
    if not config.enabled or method.upper() != "GET" or header_value(request_headers, "Range") is None:
        return False
    destination = (header_value(request_headers, "Sec-Fetch-Dest") or "").strip().lower()
    return destination in NAVIGATION_DESTINATIONS


def strip_range(request_headers: Mapping[str, str]) -> CIMultiDict[str]:
    """Return a copy of the request headers without Range and If-Range."""
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in request_headers.items():
        if name.lower() not in ("range", "if-range"):
            kept.add(name, value)
    return kept
