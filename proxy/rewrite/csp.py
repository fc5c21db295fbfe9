"""Content-Security-Policy: does a page's policy let the runtime load, which nonce to reuse, and an opt-in amendment."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

from proxy.rewrite.headers import header_values
from proxy.rewrite.snippet import RuntimeLocation

CSP_HEADER = "Content-Security-Policy"

CspMode = Literal["respect", "amend"]

_WHITESPACE = "\t\n\f\r "
_DIRECTIVE_NAME = re.compile(r"^[a-z0-9-]+$")
_NONCE = re.compile(r"^'nonce-([A-Za-z0-9+/_-]+={0,2})'$", re.IGNORECASE)
_SCHEME_SOURCE = re.compile(r"^([a-z][a-z0-9+.-]*):$", re.IGNORECASE)
_HOST_SOURCE = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?"
    r"(?P<host>\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)"
    r"(?::(?P<port>\*|[0-9]+))?"
    r"(?P<path>/[^?#]*)?$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
CONNECT_DIRECTIVES = ("connect-src", "default-src")
STYLE_DIRECTIVES = ("style-src-elem", "style-src", "default-src")
"""Fallback order of the directive that governs each kind of request the runtime makes."""


@dataclass(frozen=True)
class Policy:
    """One serialized policy: its directives (first occurrence of each name wins) and its text segments."""

    directives: Mapping[str, tuple[str, ...]]
    segments: tuple[str, ...]
    """The directive texts in their original order, kept so that an amendment changes nothing else."""

    def serialize(self) -> str:
        """Return the policy as header text."""
        return "; ".join(self.segments)


@dataclass(frozen=True)
class Permit:
    """Whether every policy lets the runtime work, and the nonce its <script> tag must carry."""

    allowed: bool
    nonce: str | None = None
    blocked_by: str | None = None
    """The first directive that blocks the runtime, e.g. "script-src", when not allowed."""


def parse_policy(text: str) -> Policy:
    """Parse one serialized policy the way browsers do: unknown names kept, repeated names ignored."""
    directives: dict[str, tuple[str, ...]] = {}
    segments: list[str] = []
    for raw in text.split(";"):
        segment = raw.strip(_WHITESPACE)
        if not segment:
            continue
        segments.append(segment)
        name, _, value = _split_first(segment)
        name = name.lower()
        if not _DIRECTIVE_NAME.match(name) or name in directives:
            continue
        directives[name] = tuple(token for token in re.split(r"[\t\n\f\r ]+", value) if token)
    return Policy(directives, tuple(segments))


def parse_policies(values: Iterable[str]) -> tuple[Policy, ...]:
    """Parse Content-Security-Policy header values; a comma separates policies within one value."""
    policies = []
    for value in values:
        for text in value.split(","):
            policy = parse_policy(text)
            if policy.segments:
                policies.append(policy)
    return tuple(policies)


def _split_first(segment: str) -> tuple[str, str, str]:
    for index, character in enumerate(segment):
        if character in _WHITESPACE:
            return segment[:index], character, segment[index + 1 :].strip(_WHITESPACE)
    return segment, "", ""


def effective_directive(policy: Policy, fallbacks: Sequence[str]) -> str | None:
    """Return the first directive of `fallbacks` that the policy contains."""
    for name in fallbacks:
        if name in policy.directives:
            return name
    return None


def declared_nonces(policies: Iterable[Policy]) -> tuple[str, ...]:
    """Return the nonces the policies allow scripts with, in order of appearance."""
    found: list[str] = []
    for policy in policies:
        name = effective_directive(policy, SCRIPT_DIRECTIVES)
        for token in policy.directives.get(name, ()) if name else ():
            match = _NONCE.match(token)
            if match and match.group(1) not in found:
                found.append(match.group(1))
    return tuple(found)


def source_list_allows(
    tokens: Sequence[str], url: str, *, nonce: str | None = None, parser_inserted_script: bool = False
) -> bool:
    """Tell whether a directive's source list allows a same-origin request for `url`.

    `nonce` is the nonce on the requesting element (script and style only). A parser-inserted
    script is blocked by 'strict-dynamic' unless its nonce matches, because that keyword makes
    browsers ignore 'self', host and scheme sources for such scripts.
    """
    if nonce is not None and any(
        (match := _NONCE.match(token)) is not None and match.group(1) == nonce for token in tokens
    ):
        return True
    if parser_inserted_script and any(token.lower() == "'strict-dynamic'" for token in tokens):
        return False
    target = urlsplit(url)
    return any(_expression_matches(token, target) for token in tokens)


def _expression_matches(expression: str, url: SplitResult) -> bool:
    """Match one source expression against a URL on the page's own origin (paths compare case-sensitively)."""
    if expression.lower() in ("*", "'self'"):
        return True
    scheme = _SCHEME_SOURCE.match(expression)
    if scheme:
        return _scheme_matches(scheme.group(1).lower(), url.scheme)
    if expression.startswith("'"):
        return False
    host = _HOST_SOURCE.match(expression)
    if host is None:
        return False
    source_scheme = host.group("scheme").lower() if host.group("scheme") else None
    if not _scheme_matches(source_scheme or url.scheme, url.scheme):
        return False
    if not _host_matches(host.group("host").lower(), url.hostname or ""):
        return False
    if not _port_matches(host.group("port"), source_scheme, url):
        return False
    return _path_matches(host.group("path") or "", url.path)


def _scheme_matches(source: str, scheme: str) -> bool:
    return source == scheme or (source == "http" and scheme == "https")


def _host_matches(pattern: str, host: str) -> bool:
    host = host.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _port_matches(port: str | None, source_scheme: str | None, url: SplitResult) -> bool:
    default = _DEFAULT_PORTS.get(url.scheme)
    actual = url.port if url.port is not None else default
    if port == "*":
        return True
    if port is None:
        if actual == default:
            return True
        return url.scheme == "https" and actual == 443 and source_scheme in (None, "http")
    return int(port) == actual or (int(port) == 80 and url.scheme == "https" and actual == 443)


def _path_matches(source_path: str, url_path: str) -> bool:
    if source_path in ("", "/"):
        return True
    exact = not source_path.endswith("/")
    source_parts = source_path.split("/")
    url_parts = url_path.split("/")
    if len(source_parts) > len(url_parts) or (exact and len(source_parts) != len(url_parts)):
        return False
    if not exact:
        source_parts = source_parts[:-1]
    return all(unquote(piece) == unquote(url_parts[index]) for index, piece in enumerate(source_parts))


def _sandbox_blocks_scripts(policy: Policy) -> bool:
    if "sandbox" not in policy.directives:
        return False
    return "allow-scripts" not in (token.lower() for token in policy.directives["sandbox"])


def _first_block(policy: Policy, runtime: RuntimeLocation, nonce: str | None, *, from_header: bool) -> str | None:
    """Return the directive of `policy` that blocks the runtime, or None when it may load and work."""
    if from_header and _sandbox_blocks_scripts(policy):
        return "sandbox"
    checks = (
        (SCRIPT_DIRECTIVES, runtime.script_url, nonce, True),
        (CONNECT_DIRECTIVES, runtime.config_url, None, False),
        (STYLE_DIRECTIVES, runtime.stylesheet_url, nonce, False),
    )
    for fallbacks, url, element_nonce, parser_inserted in checks:
        name = effective_directive(policy, fallbacks)
        if name is None:
            continue
        tokens = policy.directives[name]
        if not source_list_allows(tokens, url, nonce=element_nonce, parser_inserted_script=parser_inserted):
            return name
    return None


def evaluate(
    header_policies: Sequence[Policy],
    meta_policies: Sequence[Policy],
    runtime: RuntimeLocation,
    *,
    nonce_possible: bool = True,
) -> Permit:
    """Decide whether the runtime may load under every enforced policy, preferring a declared nonce.

    Header policies may carry `sandbox`; <meta> policies cannot, as browsers ignore it there.
    With `nonce_possible` False the snippet cannot carry a nonce, so only URL sources count.
    """
    if not header_policies and not meta_policies:
        return Permit(True)
    nonces = declared_nonces([*header_policies, *meta_policies]) if nonce_possible else ()
    candidates: list[str | None] = [*nonces, None]
    first_blocker: str | None = None
    for nonce in candidates:
        blocker = None
        for policy in header_policies:
            blocker = blocker or _first_block(policy, runtime, nonce, from_header=True)
        for policy in meta_policies:
            blocker = blocker or _first_block(policy, runtime, nonce, from_header=False)
        if blocker is None:
            return Permit(True, nonce)
        first_blocker = first_blocker or blocker
    return Permit(False, None, first_blocker)


def amend_policy(policy: Policy, runtime: RuntimeLocation, nonce: str | None) -> Policy:
    """Add the runtime's URLs to the directives that block them, and nothing else.

    The script URL goes to script-src-elem and script-src, the prefix to connect-src and the
    runtime folder to style-src-elem and style-src, each only where that directive exists and
    blocks the URL. A policy governed by default-src alone gets a new directive that copies
    default-src and adds the URL, so other resource types stay as restricted as before. A lone
    'none' is replaced, because a list with 'none' and a source is not a valid serialization.
    'strict-dynamic' and `sandbox` are left as they are: no URL source can lift them.
    """
    amended = policy
    plans = (
        (("script-src-elem", "script-src"), runtime.script_url, runtime.script_url, nonce, True),
        (("connect-src",), runtime.connect_url, runtime.config_url, None, False),
        (("style-src-elem", "style-src"), runtime.style_url, runtime.stylesheet_url, nonce, False),
    )
    for names, source, probe, element_nonce, parser_inserted in plans:
        present = [name for name in names if name in amended.directives]
        if present:
            for name in present:
                tokens = amended.directives[name]
                if not source_list_allows(tokens, probe, nonce=element_nonce, parser_inserted_script=parser_inserted):
                    amended = _add_source(amended, name, source)
        elif "default-src" in amended.directives:
            tokens = amended.directives["default-src"]
            if not source_list_allows(tokens, probe, nonce=element_nonce, parser_inserted_script=parser_inserted):
                amended = _add_directive(amended, names[-1], tokens, source)
    return amended


def _add_source(policy: Policy, name: str, source: str) -> Policy:
    tokens = policy.directives[name]
    kept = tuple(token for token in tokens if token.lower() != "'none'")
    directives = dict(policy.directives)
    directives[name] = (*kept, source)
    segments = list(policy.segments)
    for index, segment in enumerate(segments):
        written_name, _, _ = _split_first(segment)
        if written_name.lower() == name:
            segments[index] = " ".join((written_name, *kept, source))
            break
    return replace(policy, directives=directives, segments=tuple(segments))


def _add_directive(policy: Policy, name: str, copied: tuple[str, ...], source: str) -> Policy:
    kept = tuple(token for token in copied if token.lower() != "'none'")
    directives = {**policy.directives, name: (*kept, source)}
    return replace(policy, directives=directives, segments=(*policy.segments, " ".join((name, *kept, source))))


@dataclass(frozen=True)
class CspPlan:
    """What a response's Content-Security-Policy headers mean for the runtime.

    `policies` are the enforced header policies as the browser will receive them, amended in
    "amend" mode. `header_values` are the new header values, or None when the headers stay as
    they are. Content-Security-Policy-Report-Only is never read or changed, as it blocks nothing.
    """

    mode: CspMode
    runtime: RuntimeLocation
    policies: tuple[Policy, ...]
    header_values: tuple[str, ...] | None

    def permit(self, meta_policies: Sequence[Policy] = (), *, nonce_possible: bool = True) -> Permit:
        """Evaluate the header policies together with <meta> policies that precede the snippet."""
        return evaluate(self.policies, meta_policies, self.runtime, nonce_possible=nonce_possible)


def plan_csp(response_headers: Mapping[str, str], runtime: RuntimeLocation, mode: CspMode) -> CspPlan:
    """Read the response's enforced policies and, in "amend" mode, amend them for the runtime."""
    values = header_values(response_headers, CSP_HEADER)
    if mode != "amend" or not values:
        return CspPlan(mode, runtime, parse_policies(values), None)
    nonces = declared_nonces(parse_policies(values))
    nonce = nonces[0] if nonces else None
    amended_values: list[str] = []
    policies: list[Policy] = []
    for value in values:
        amended = [amend_policy(policy, runtime, nonce) for policy in parse_policies([value])]
        policies.extend(amended)
        amended_values.append(", ".join(policy.serialize() for policy in amended))
    return CspPlan(mode, runtime, tuple(policies), tuple(amended_values))
